"""gunicorn settings for CPU-bound verifications, read from the one settings table (web/config.py).

One worker process per core does the verifying; each worker runs a few threads so that requests waiting for its
single verification slot are seen, bounded and answered 503 ``overloaded`` by the overload guard (web/service.py)
instead of piling up unseen in the kernel's queue. Run: ``gunicorn --config gunicorn.conf.py 'app:create_app()'``.
"""

from __future__ import annotations

import os

from web.config import value

bind = value("BIND")  # the command line's --bind wins
workers = value("WORKERS") or (os.cpu_count() or 1)
worker_class = "web.worker.VerifyingWorker"  # gthread that lets idle workers accept first (see web/worker.py)
threads = value("THREADS") or (value("VERIFY_CONCURRENCY") + value("VERIFY_QUEUE_MAX") + 2)
# Accept no more connections per worker than it has threads: the rest wait in the (bounded) listen backlog.
worker_connections = threads
backlog = value("BACKLOG")
timeout = value("TIMEOUT")
graceful_timeout = 30
# No keep-alive: each request is a new connection, so it goes to whichever worker is idle rather than staying
# with a busy one (loopback and proxy connections cost far less than a verification).
keepalive = 0
max_requests = 2000  # recycle workers now and then (bounded memory growth), staggered by the jitter
max_requests_jitter = 200
limit_request_line = 8190
limit_request_fields = 100
# gunicorn's control socket sits at one path per user: several servers on a machine (tests, benchmarks) would
# fight over it, and nothing here uses it.
control_socket_disable = True
loglevel = value("LOG_LEVEL")
accesslog = "-"
errorlog = "-"
# Request ids instead of client addresses: the log of attempts keeps only keyed hashes of addresses.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# The heartbeat file on a RAM disk where there is one (containers often have a slow or small /tmp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def post_fork(server, worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """One OpenCV thread per worker: the workers already fill the cores, extra threads only contend."""
    import cv2

    cv2.setNumThreads(1)
