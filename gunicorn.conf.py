"""gunicorn settings for CPU-bound verifications, read from the one settings table (web/config.py).

One worker process per core does the verifying; each worker runs a few threads so that requests waiting for its
single verification slot are seen, bounded and answered 503 ``overloaded`` by the overload guard (web/service.py)
instead of piling up unseen in the kernel's queue. Run: ``gunicorn --config gunicorn.conf.py 'app:create_app()'``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile

from web.config import value

bind = value("BIND")  # the command line's --bind wins
workers = value("WORKERS") or (os.cpu_count() or 1)
worker_class = "web.worker.VerifyingWorker"  # gthread that lets idle workers accept first (see web/worker.py)
threads = value("THREADS") or (value("VERIFY_CONCURRENCY") + value("VERIFY_QUEUE_MAX") + 2)
# Connections whose requests are still arriving cost no thread (web/worker.py reads them in its event loop); a worker
# whose threads are all taken accepts nothing, and the rest wait in the (bounded) listen backlog.
worker_connections = value("WORKER_CONNECTIONS")
backlog = value("BACKLOG")
timeout = value("TIMEOUT")  # enforced per request by web/worker.py, not only as a heartbeat
graceful_timeout = 30
# No keep-alive: each request is a new connection, so it goes to whichever worker is idle rather than staying
# with a busy one (loopback and proxy connections cost far less than a verification).
keepalive = 0
# Workers keep memory that decoding once took: replace them now and then, staggered by the jitter, and at once after
# a request that left one above WORKER_MAX_RSS_MB (post_request below).
max_requests = value("MAX_REQUESTS")
max_requests_jitter = value("MAX_REQUESTS_JITTER")
limit_request_line = 8190
limit_request_fields = 100
# gunicorn's control socket sits at one path per user: several servers on a machine (tests, benchmarks) would
# fight over it, and nothing here uses it.
control_socket_disable = True
loglevel = value("LOG_LEVEL")
# Requests are logged by the app, one JSON line each on stdout (web/requestlog.py: request id, route, status,
# outcome, stage times; never addresses, keys, images or certificate text): gunicorn's access log would repeat them.
accesslog = None
errorlog = "-"
# The heartbeat file on a RAM disk where there is one (containers often have a slow or small /tmp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Metrics (web/metrics.py): every worker keeps its counts in files of one folder, which /metrics sums
# (prometheus_client's multiprocess mode). The variable is set here, as the master reads this file and before it
# imports the worker class (which imports prometheus_client, which decides its mode on import), so that every
# process agrees; unset, each master gets a folder of its own on the RAM disk, removed when it exits. The folder is
# emptied when the master starts (on_starting), and child_exit forgets the live gauges of a worker that ended. A
# folder named like one a master made for itself (inherited by a re-executed master, USR2) is not taken over.
METRICS_BASE = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
OWN_METRICS_DIR = os.path.join(METRICS_BASE, f"certverify-metrics-{os.getpid()}")
metrics_dir = value("PROMETHEUS_MULTIPROC_DIR") or OWN_METRICS_DIR
if re.fullmatch(re.escape(os.path.join(METRICS_BASE, "certverify-metrics-")) + r"\d+", metrics_dir):
    metrics_dir = OWN_METRICS_DIR
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
os.makedirs(metrics_dir, mode=0o700, exist_ok=True)


def on_starting(server) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Start the metrics from zero: counts left by an earlier run of this folder would be summed with the new ones."""
    for path in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(path)


def child_exit(server, worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """A worker ended (replaced, killed or crashed): its counts stay in the sums, its live gauges leave them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def on_exit(server) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Remove the metrics folder this master made for itself (never one the operator named)."""
    if metrics_dir == OWN_METRICS_DIR:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def post_fork(server, worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """One OpenCV thread per worker: the workers already fill the cores, extra threads only contend. The worker
    counts itself in ``certverify_workers``."""
    import cv2

    from web import metrics

    cv2.setNumThreads(1)
    metrics.WORKERS.set(1)


def post_request(worker, req, environ, resp) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Replace a worker after the request that took its resident memory past WORKER_MAX_RSS_MB."""
    limit_mb = value("WORKER_MAX_RSS_MB")
    if not limit_mb or not worker.alive:
        return
    try:
        with open("/proc/self/statm") as f:
            rss_mb = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return
    if rss_mb > limit_mb:
        worker.log.warning("worker %s holds %.0f MiB (limit %s MiB): replacing it", worker.pid, rss_mb, limit_mb)
        worker.alive = False
