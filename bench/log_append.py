"""What an append to the verification log costs: record() latency on SQLite and PostgreSQL, p50/p95.

    python bench/log_append.py [--n 500] [--threads 4] [--postgres URL] [--no-reference]

Each backend gets a fresh, migrated database (a temporary SQLite file; a temporary PostgreSQL database created
through --postgres, default TEST_POSTGRES_URL, which needs CREATEDB). Appends are timed one after another, then
from several threads at once (they queue on the chain lock). For scale, the library's verification of the
sample scan is timed too, and each append is reported as a share of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_app(url: str, workdir: Path):
    from app import create_app
    from verify.keys import init_ring
    from web import db

    keys = workdir / "keys"
    if not keys.exists():
        init_ring(keys, "bench")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url, "KEYS_DIR": str(keys),
                      "RATELIMIT_STORAGE_URI": "memory://"})
    db.upgrade(app)
    return app


def entry(i: int):
    from web.auditlog import AttemptRecord

    return AttemptRecord(request_id=uuid.uuid4().hex, channel="api", client="bench-bank", outcome="verified",
                         serial=f"B-{i:06d}", issuer="990001", key_id="bench", signature="valid",
                         upload_sha256="ab" * 32, input_format="jpeg", width=2480, height=3508, dpi_estimate=300.0,
                         quality={"ssim": 0.97, "grid_residual": 0.21, "sharpness": 1.4}, processing_ms=412.5)


def time_appends(app, n: int, threads: int) -> tuple[list[float], list[float], float]:
    """Per-append seconds, sequential and from ``threads`` threads, and the threaded run's wall time."""
    from web import auditlog

    with app.app_context():
        for i in range(10):  # warm the pool and the caches
            auditlog.record(entry(i))
        sequential = []
        for i in range(n):
            t = time.perf_counter()
            auditlog.record(entry(i))
            sequential.append(time.perf_counter() - t)

    contended: list[float] = []
    lock = threading.Lock()

    def work(count: int) -> None:
        with app.app_context():
            mine = []
            for i in range(count):
                t = time.perf_counter()
                auditlog.record(entry(i))
                mine.append(time.perf_counter() - t)
        with lock:
            contended.extend(mine)

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(n // threads,)) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    from web import db

    status = auditlog.verify_chain(db.get_engine(app), auditlog._checkpoint_key(app))
    assert status.ok, status.message
    return sequential, contended, wall


def reference_verification_ms(workdir: Path, runs: int = 5) -> float | None:
    """Median time of verify.restore on the sample certificate's back (PNG), the work an append rides on."""
    try:
        import verify
        from verify.keys import KeyRing
    except ImportError:
        return None
    ring = KeyRing.load(workdir / "keys")
    cert = verify.issue(ring, serial="BENCH-000001")
    data = verify.encode_image(cert.back, fmt="jpeg", quality=92)
    verify.restore(data, ring)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        verify.restore(data, ring)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def report(name: str, sequential: list[float], contended: list[float], wall: float, threads: int,
           ref_ms: float | None) -> None:
    p50, p95 = percentile(sequential, 0.5) * 1000, percentile(sequential, 0.95) * 1000
    c50, c95 = percentile(contended, 0.5) * 1000, percentile(contended, 0.95) * 1000
    share = f"  = {100 * p50 / ref_ms:.2f}% / {100 * p95 / ref_ms:.2f}% of one verification" if ref_ms else ""
    print(f"{name:<11} sequential  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  (n={len(sequential)}){share}")
    print(f"{'':<11} {threads} threads   p50 {c50:6.2f} ms  p95 {c95:6.2f} ms  "
          f"({len(contended) / wall:,.0f} appends/s through the chain lock)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()

    from web import db

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ref_ms = None if args.no_reference else reference_verification_ms_safe(workdir)
        if ref_ms:
            print(f"reference: verify.restore of the sample back (JPEG) median {ref_ms:.0f} ms")

        app = make_app(f"sqlite:///{workdir / 'bench.db'}", workdir)
        report("SQLite", *time_appends(app, args.n, args.threads), args.threads, ref_ms)
        db.get_engine(app).dispose()

        if not args.postgres:
            print("PostgreSQL  skipped: pass --postgres URL or set TEST_POSTGRES_URL (source .ci/services.sh)")
            return
        name = f"cv_bench_{os.getpid()}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = sa.engine.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            app = make_app(url, workdir)
            report("PostgreSQL", *time_appends(app, args.n, args.threads), args.threads, ref_ms)
            db.get_engine(app).dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reference_verification_ms_safe(workdir: Path) -> float | None:
    from verify.keys import init_ring

    init_ring(workdir / "keys", "bench")
    try:
        return reference_verification_ms(workdir)
    except Exception as exc:  # the pipeline is another issue's work: the log figures stand on their own
        print(f"reference verification unavailable: {exc}")
        return None


if __name__ == "__main__":
    main()
