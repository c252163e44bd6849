"""The gunicorn worker for CPU-bound verifications: gthread, but an idle worker gets new connections first.

All workers wait on the one listening socket and whichever wakes first accepts. A worker whose core is busy
verifying would otherwise take a connection and make it wait for its own verification slot while another worker's
core sits idle (threads of one process cannot share the work: the pipeline holds the GIL for much of it). So a
busy worker defers its accept a little; an idle worker, woken at the same moment, wins the race. When every worker
is busy the connection is accepted after the short deferral and waits, bounded, in the overload guard.
"""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker

ACCEPT_DEFERRAL_S = 0.03


class VerifyingWorker(ThreadWorker):
    def accept(self, *args) -> None:  # noqa: ANN002 (the listener; older gunicorns also pass the server)
        from web import service

        if service.busy():
            time.sleep(ACCEPT_DEFERRAL_S)
        super().accept(*args)
