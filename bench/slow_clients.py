"""Slow clients against the site: /healthz latency from other clients while connections send their request slowly.

gunicorn (2 workers, the site's own configuration) is started on a temporary key ring and log. The figures: the
/healthz latency (median, p95, max of --probes calls) with no other connection, then with N connections open that
send part of their headers or a multipart body and stop (N = 16, 64, 128), then with the same number sending a
large form body (1 MiB urlencoded, no CSRF token) at once; and how long the form posts took to be answered.

    .venv/bin/python bench/slow_clients.py
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Site  # noqa: E402  (bench/load.py starts gunicorn the way every bench does)

SLOW_HEADER = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SLOW_BODY = (b"POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
             b"Content-Length: 10000000\r\n\r\n--x\r\nContent-Disposition: form-data; name=\"scan\"; "
             b"filename=\"a.png\"\r\n\r\n\x89PNG")


def probe(site: Site, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        try:
            status = site.call("/healthz", None, "GET")[0]
        except OSError:
            status = 0
        times.append((time.perf_counter() - start) * 1000 if status == 200 else float("inf"))
        time.sleep(0.02)
    return times


def describe(times: list[float]) -> str:
    ok = sorted(t for t in times if t != float("inf"))
    failed = len(times) - len(ok)
    if not ok:
        return f"no answer ({failed} failed)"
    p95 = ok[min(len(ok) - 1, int(0.95 * len(ok)))]
    under = sum(1 for t in ok if t < 100)
    return (f"median {statistics.median(ok):6.1f} ms, p95 {p95:6.1f} ms, max {ok[-1]:7.1f} ms, "
            f"{under}/{len(times)} under 100 ms" + (f", {failed} failed" if failed else ""))


def form_post(port: int) -> float:
    body = b"name=alice&password=" + b"x" * (1024 * 1024)
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /audit/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        try:
            sock.sendall(body)
        except OSError:
            pass  # answered 413 and closed before the body was sent: what the limit is for
        sock.recv(64)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-slow-"))
    try:
        init_ring(tmp / "keys", "bench")
        site = Site(tmp, tmp / "keys", args.workers, 10.0)
        try:
            print(f"gunicorn, {args.workers} workers; /healthz from another client, {args.probes} calls each")
            print(f"  no other connection:            {describe(probe(site, args.probes))}")
            for count in (16, 64, 128):
                socks = []
                try:
                    for i in range(count):
                        s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
                        s.sendall(SLOW_HEADER if i % 2 else SLOW_BODY)
                        socks.append(s)
                    time.sleep(0.3)
                    print(f"  {count:3d} slow connections open:    {describe(probe(site, args.probes))}")
                finally:
                    for s in socks:
                        s.close()
            with cf.ThreadPoolExecutor(16) as pool:
                posts = pool.map(lambda _: form_post(site.port), range(16))
                during = probe(site, args.probes)
                posts = list(posts)
            print(f"   16 x 1 MiB urlencoded posts:   {describe(during)}; each answered 413 in "
                  f"median {statistics.median(posts):.0f} ms")
        finally:
            site.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
