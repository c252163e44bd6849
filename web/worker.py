"""The gunicorn worker for CPU-bound verifications: gthread that reads whole requests before any thread sees them,
ends requests that run past the timeout, and lets idle workers accept first.

Slow clients. gunicorn's threaded worker gives a connection to a thread as soon as its first byte arrives; the
thread then blocks until the headers and body are in, so a few clients sending slowly hold every thread and the
site stops answering. Here the worker's event loop reads each request itself, without blocking, into memory:
headers within REQUEST_HEADER_TIMEOUT, the body within REQUEST_BODY_TIMEOUT (and never idle for longer than
REQUEST_IDLE_TIMEOUT); only a complete request goes to a thread. A body larger than the site takes is not read:
the request goes on at once, to be answered 413. Bodies being read share a per-worker memory budget
(REQUEST_BUFFER_BYTES); a connection that does not fit waits, unread, until memory is free.

Requests past the timeout. The threaded worker's heartbeat comes from its event loop, which keeps beating while a
thread is stuck, so gunicorn's timeout never fired. Here the loop checks how long each request has run: past
TIMEOUT it closes the stuck connections (the client sees the connection end) and leaves, and gunicorn starts a new
worker.

Accepting. All workers wait on the one listening socket and whichever wakes first accepts. A worker whose core is
busy verifying defers its accept a little, so an idle worker, woken at the same moment, wins the race.
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from web import metrics, requestlog, service
from web.config import value
from web.problems import WebError, problem

ACCEPT_DEFERRAL_S = 0.03
READ_SIZE = 65536
MAX_HEADER_BYTES = 64 * 1024  # larger headers go on to gunicorn's parser, which refuses them
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_EXPECT = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r\n", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.I | re.M)


def _timeout_answer(request_id: str) -> bytes:
    """408 ``request_timeout`` as the problem document every other failure of the site gets (``web.problems``),
    written by the worker itself: the app never saw the request."""
    body = json.dumps(problem(WebError("request_timeout"), lang="en", request_id=request_id,
                              type_url="/errors/request_timeout"), ensure_ascii=False).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            b"Cache-Control: no-store\r\nX-Request-ID: " + request_id.encode() + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _request_path(buf: bytearray) -> str | None:
    """The path of a request line that arrived whole (``POST /api/v1/verifications HTTP/1.1``), else None."""
    line_end = buf.find(b"\r\n")
    parts = bytes(buf[:line_end]).split(b" ") if line_end > 0 else []
    return parts[1].decode("latin-1") if len(parts) == 3 else None


@dataclass(eq=False)
class Reading:
    """A connection whose request is being read by the event loop."""

    sock: socket.socket
    client: tuple
    server: tuple
    header_deadline: float
    idle_deadline: float
    buf: bytearray = field(default_factory=bytearray)
    header_end: int = -1
    body_deadline: float = 0.0
    need: int | None = None  # total bytes of a sized request, once its headers are in
    chunked: bool = False
    scanned: int = 0  # chunked: where the next chunk-size line starts
    counted: int = 0  # bytes of the worker's buffer budget this connection holds
    want: int = 0  # a sized request waiting for budget: the bytes it needs in all


def _chunked_end(buf: bytearray, pos: int) -> tuple[int | None, int]:
    """Walk the chunks from ``pos``: (end of the whole message or None, where to resume)."""
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None, pos
        try:
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            return len(buf), pos  # malformed: let gunicorn's parser refuse it
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if trailer_end < 0 and buf[line_end:line_end + 4] != b"\r\n\r\n":
                return None, pos
            return (trailer_end + 4 if trailer_end >= 0 else line_end + 4), pos
        nxt = line_end + 2 + size + 2
        if nxt > len(buf):
            return None, pos
        pos = nxt


class VerifyingWorker(ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 (gunicorn's signature)
        super().__init__(*args, **kwargs)
        self.header_timeout = float(value("REQUEST_HEADER_TIMEOUT"))
        self.body_timeout = float(value("REQUEST_BODY_TIMEOUT"))
        self.idle_timeout = float(value("REQUEST_IDLE_TIMEOUT"))
        self.max_body = int(value("MAX_REQUEST_BYTES"))
        self.buffer_budget = max(int(value("REQUEST_BUFFER_BYTES")), self.max_body + MAX_HEADER_BYTES)
        self.buffered = 0
        self.reading: set[Reading] = set()
        self.waiting_budget: deque[Reading] = deque()
        self.ready: deque[TConn] = deque()  # complete requests waiting for a free thread
        self.in_threads = 0
        self.running: dict[int, tuple[float, socket.socket]] = {}  # thread id -> (start, socket)
        self.running_lock = threading.Lock()

    # --- accepting -------------------------------------------------------------------------------------------

    @property
    def worker_connections(self) -> int:
        """While complete requests wait for a thread, accept nothing: an idle worker takes the next one."""
        return 0 if self.ready else self._max_connections

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._max_connections = value

    def accept(self, listener) -> None:  # noqa: ANN001
        if service.busy():
            time.sleep(ACCEPT_DEFERRAL_S)
        if self.cfg.is_ssl:  # TLS ends in front of the site; gunicorn's own TLS keeps its plain reading
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client_sock.setblocking(False)
        now = time.monotonic()
        state = Reading(client_sock, client_addr, listener.getsockname(), now + self.header_timeout,
                        now + self.idle_timeout)
        self.reading.add(state)
        self.poller.register(client_sock, selectors.EVENT_READ, lambda _sock, s=state: self._readable(s))

    # --- reading requests in the event loop ------------------------------------------------------------------

    def _readable(self, state: Reading) -> None:
        while True:
            reserved = state.need is not None and state.counted >= state.need  # its whole body is held already
            if (not reserved and len(state.buf) + READ_SIZE > state.counted
                    and self.buffered + READ_SIZE > self.buffer_budget and self.buffered > state.counted):
                self._pause(state)  # out of memory budget: read on when another request has finished
                return
            try:
                data = state.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(state)
                return
            if not data:
                self._drop(state)  # the client went away before its request was complete
                return
            state.buf += data
            if len(state.buf) > state.counted:
                self.buffered += len(state.buf) - state.counted
                state.counted = len(state.buf)
            state.idle_deadline = time.monotonic() + self.idle_timeout
            if self._complete(state):
                self._hand_over(state)
                return
            if state.want:
                return  # paused until its body fits in the budget
            if len(data) < READ_SIZE:
                break

    def _complete(self, state: Reading) -> bool:
        """True when the request is whole (or must go on unread: oversized or malformed)."""
        end: int | None  # where the header ends, then (chunked) where the body does, if it has yet
        if state.header_end < 0:
            end = state.buf.find(b"\r\n\r\n")
            if end < 0:
                return len(state.buf) > MAX_HEADER_BYTES
            state.header_end = end + 4
            state.body_deadline = time.monotonic() + self.body_timeout
            head = bytes(state.buf[:end + 2])
            expect = _EXPECT.search(head)
            if expect and not ((declared := _CONTENT_LENGTH.search(head)) and int(declared.group(1)) > self.max_body):
                # the client waits for this before sending its body; the header is taken out so that gunicorn
                # does not answer it a second time
                del state.buf[expect.start():expect.end()]
                state.header_end -= expect.end() - expect.start()
                head = bytes(state.buf[:state.header_end - 2])
                try:
                    state.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
            if _CHUNKED.search(head):
                state.chunked, state.scanned = True, state.header_end
            else:
                length = _CONTENT_LENGTH.search(head)
                size = int(length.group(1)) if length else 0
                if size > self.max_body:
                    return True  # answered 413 without reading the body
                state.need = state.header_end + size
                # hold the whole body's memory now, so that a request that starts reading always finishes
                if not self._reserve(state, state.need):
                    state.want = state.need
                    self._pause(state)
                    return False
        if state.chunked:
            end, state.scanned = _chunked_end(state.buf, state.scanned)
            return end is not None or len(state.buf) - state.header_end > self.max_body
        return state.need is not None and len(state.buf) >= state.need

    def _reserve(self, state: Reading, total: int) -> bool:
        extra = total - state.counted
        if extra <= 0:
            return True
        if self.buffered + extra > self.buffer_budget and self.buffered > state.counted:
            return False
        self.buffered += extra
        state.counted = total
        return True

    def _pause(self, state: Reading) -> None:
        try:
            self.poller.unregister(state.sock)
        except (KeyError, ValueError):
            pass
        if state not in self.waiting_budget:
            self.waiting_budget.append(state)

    def _resume_paused(self) -> None:
        while self.waiting_budget:
            state = self.waiting_budget[0]
            if state.want:
                if not self._reserve(state, state.want):
                    return
                state.want = 0
            elif self.buffered + READ_SIZE > self.buffer_budget and self.buffered > 0:
                return
            self.waiting_budget.popleft()
            state.idle_deadline = time.monotonic() + self.idle_timeout
            self.poller.register(state.sock, selectors.EVENT_READ, lambda _sock, s=state: self._readable(s))

    def _forget(self, state: Reading) -> None:
        self.reading.discard(state)
        try:
            self.poller.unregister(state.sock)
        except (KeyError, ValueError):
            pass
        if state in self.waiting_budget:
            self.waiting_budget.remove(state)

    def _free(self, state: Reading) -> None:
        self.buffered = max(0, self.buffered - state.counted)
        state.counted = 0

    def _drop(self, state: Reading, answer: bytes = b"") -> None:
        self._forget(state)
        self._free(state)
        if answer:
            try:
                state.sock.send(answer)
            except OSError:
                pass
        try:
            state.sock.close()
        except OSError:
            pass
        self.nr_conns -= 1
        self._resume_paused()

    def _hand_over(self, state: Reading) -> None:
        self._forget(state)
        state.sock.setblocking(True)
        conn = TConn(self.cfg, state.sock, state.client, state.server)
        conn.sock.setblocking(True)
        conn.data_ready = True
        conn.initialized = True
        sock, data = state.sock, bytes(state.buf)

        idle = self.idle_timeout

        def source():  # the buffered request, then whatever the client sends after it (an unread large body)
            yield data
            while True:
                sock.settimeout(idle)  # a thread never waits on a silent client for longer
                chunk = sock.recv(READ_SIZE)
                if not chunk:
                    return
                yield chunk

        conn.parser = http.get_parser(self.cfg, source(), state.client)
        conn.reading_state = state
        self.ready.append(conn)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.ready and self.in_threads < self.cfg.threads:
            self.in_threads += 1
            self.enqueue_req(self.ready.popleft())

    def finish_request(self, conn, fs) -> None:  # noqa: ANN001
        state = getattr(conn, "reading_state", None)
        if state is not None:
            self.in_threads -= 1
            self._free(state)
            conn.reading_state = None
        super().finish_request(conn, fs)
        self._resume_paused()
        self._dispatch()

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time (408), besides gunicorn's own pending ones."""
        super().murder_pending()
        now = time.monotonic()
        for state in list(self.reading):
            late_header = state.header_end < 0 and now > state.header_deadline
            late_body = state.header_end >= 0 and now > state.body_deadline
            idle = now > state.idle_deadline and state not in self.waiting_budget  # paused by us: not idle
            if late_header or late_body or idle:
                rid = str(uuid.uuid4())
                self._drop(state, _timeout_answer(rid))
                # the app never saw it: its request log line is written and its refusal counted here (no route was
                # read)
                requestlog.emit(request_id=rid, status=408, code="request_timeout",
                                waiting_for="header" if late_header else "body")
                metrics.refused("request_timeout", _request_path(state.buf))

    # --- the timeout of running requests ---------------------------------------------------------------------

    def handle(self, conn):  # noqa: ANN001, ANN201
        key = threading.get_ident()
        with self.running_lock:
            self.running[key] = (time.monotonic(), conn.sock)
        try:
            return super().handle(conn)
        finally:
            with self.running_lock:
                self.running.pop(key, None)

    def notify(self) -> None:
        limit = self.cfg.timeout
        if limit:
            now = time.monotonic()
            with self.running_lock:
                stuck = [(now - start, sock) for start, sock in self.running.values() if now - start > limit]
            if stuck:
                self.log.critical("request running for %.0f s, past the %s s timeout: ending the worker (pid %s)",
                                  max(s for s, _ in stuck), limit, os.getpid())
                for _elapsed, sock in stuck:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                os._exit(1)  # the stuck thread cannot be stopped; gunicorn starts a new worker
        super().notify()
