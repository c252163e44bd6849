"""Separate processes for the concurrency tests (run as ``python -m tests.audit.workers ...``).

``append N THREADS``: one create_app() appending N entries from THREADS threads, after a shared start time.
``hold``: open an append transaction (chain head locked, entry inserted), say HOLDING and wait to be killed.
The database comes from DATABASE_URL, like a deployed instance.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def _app():
    from app import create_app

    return create_app({"TESTING": True})


def append(count: int, threads: int, start_at: float) -> None:
    from web import auditlog

    app = _app()
    per_thread = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def work(n: int, t: int) -> None:
        with app.app_context():
            for i in range(n):
                auditlog.record(auditlog.AttemptRecord(request_id=f"{os.getpid()}-{t}-{i}", channel="api",
                                                       client=f"proc-{os.getpid()}", outcome="failed",
                                                       error_code="markers_not_found"))

    time.sleep(max(0.0, start_at - time.time()))
    workers = [threading.Thread(target=work, args=(n, t)) for t, n in enumerate(per_thread)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("DONE", flush=True)


def hold() -> None:
    import sqlalchemy as sa

    from web import auditlog, db
    from web.models import LogEntry

    app = _app()
    with app.app_context():
        values = auditlog._row_values(auditlog.AttemptRecord(request_id="doomed", channel="api", client="doomed",
                                                             outcome="failed"))
        with db.write_connection() as conn:
            seq, prev = auditlog._lock_head(conn)
            row = dict(values, seq=seq + 1, prev_hash=prev)
            row["entry_hash"] = auditlog.entry_hash(row)
            conn.execute(sa.insert(LogEntry), [row])
            print("HOLDING", flush=True)
            time.sleep(120)  # killed long before this ends


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    if sys.argv[1] == "append":
        append(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "hold":
        hold()
