"""Load benchmark of the site: gunicorn (2 workers) against the library call alone, in the same run.

    python bench/load.py [--scan FILE] [--requests 20] [--overload-seconds 20] [--workers 2]

1. Library: ``verify.restore`` on the sample scan, one process (latency) and one process per worker (throughput),
   one OpenCV thread each, as in the workers.
2. Site, one client: POST /api/v1/verifications over HTTP keep-alive, with ``?image=none|jpeg|png``; the web
   overhead is the site's p50 over the library's p50.
3. Site, one client per worker: throughput and how busy the workers' cores are.
4. Overload: ten clients per verification slot, each sending back to back (pausing min(Retry-After, 1 s) after a
   503): every answer must be 200 or 503 ``overloaded``, no connection may fail or time out, and no request may
   wait longer than VERIFY_QUEUE_TIMEOUT for a slot.
Only loopback is used; every loop is bounded in count and time. The figures are printed as a table.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SECRET = "bench-secret-key-not-for-production-use-0123456789"
IMAGES = ("none", "jpeg", "png")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# --- the library alone ------------------------------------------------------------------------------------------

_ring = None


def _init_worker(keys: str) -> None:
    global _ring
    import cv2

    import verify

    cv2.setNumThreads(1)
    _ring = verify.KeyRing.load(keys)


def _restore_once(data: bytes) -> float:
    import verify

    start = time.perf_counter()
    verify.restore(data, _ring)
    return time.perf_counter() - start


def library_rate(pool: cf.ProcessPoolExecutor, data: bytes, n: int, processes: int) -> float:
    """Verifications per second of ``processes`` library processes side by side."""
    start = time.perf_counter()
    list(pool.map(_restore_once, [data] * (n * processes)))
    return n * processes / (time.perf_counter() - start)


# --- the site ---------------------------------------------------------------------------------------------------


class Site:
    def __init__(self, tmp: Path, keys: Path, workers: int, queue_timeout: float, root: Path = ROOT,
                 settings: dict[str, str] | None = None) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTVERIFY_", "FLASK_"))}
        self.env.update({
            "SECRET_KEY": SECRET, "CERTVERIFY_KEYS_DIR": str(keys), "DATABASE_URL": f"sqlite:///{tmp / 'log.db'}",
            "RATELIMIT_STORAGE_URI": "memory://", "CERTVERIFY_RATELIMIT_ENABLED": "false",
            "CERTVERIFY_WORKERS": str(workers), "CERTVERIFY_VERIFY_QUEUE_TIMEOUT": str(queue_timeout),
            "CERTVERIFY_LOG_LEVEL": "warning",
        })
        self.env.update(settings or {})
        self.queue_timeout = queue_timeout
        self.root = root
        self.flask("db", "upgrade")
        self.key = self.flask("api-keys", "create", "bench").strip().splitlines()[-1]
        self.log = (tmp / "gunicorn.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", "/dev/null", "app:create_app()"],
            cwd=root, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.call("/healthz", None, "GET")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def warm_up(self, data: bytes, workers: int) -> None:
        """A few verifications at once, so that every worker has done its first (slower) one."""
        with cf.ThreadPoolExecutor(2 * workers) as pool:
            list(pool.map(lambda _: self.call("/api/v1/verifications?image=none", data), range(2 * workers)))

    def flask(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    def call(self, path: str, body: bytes | None, method: str = "POST",
             conn: http.client.HTTPConnection | None = None,
             content_type: str = "application/octet-stream") -> tuple[int, dict[str, str], bytes]:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": content_type}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if own:
            conn.close()
        return response.status, dict(response.getheaders()), data

    def worker_pids(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self, pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def server_timing(headers: dict[str, str], name: str) -> float:
    for part in headers.get("Server-Timing", "").split(","):
        key, _, dur = part.strip().partition(";dur=")
        if key == name:
            return float(dur) / 1000
    return 0.0


def paired(site: Site, data: bytes, n: int) -> dict[str, list[float]]:
    """Latency of the library call and of the site (per image choice), interleaved call by call so that both see
    the same background load on a shared machine."""
    conns = {image: http.client.HTTPConnection("127.0.0.1", site.port, timeout=60) for image in IMAGES}
    times: dict[str, list[float]] = {"library": [], "read": [], "verify": [], **{image: [] for image in IMAGES}}
    for i in range(n + 1):  # the first round warms up
        lap = {"library": _restore_once(data)}
        for image, conn in conns.items():
            start = time.perf_counter()
            status, headers, body = site.call(f"/api/v1/verifications?image={image}", data, conn=conn)
            lap[image] = time.perf_counter() - start
            assert status == 200, body[:300]
            if image == "none":
                lap["read"], lap["verify"] = server_timing(headers, "read"), server_timing(headers, "verify")
        if i:
            for key, value in lap.items():
                times[key].append(value)
    for conn in conns.values():
        conn.close()
    return times


def concurrent(site: Site, data: bytes, clients: int, n: int) -> dict[str, float]:
    pids = site.worker_pids()
    cpu0 = site.cpu_seconds(pids)
    times: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
        for _ in range(count):
            start = time.perf_counter()
            status, _, body = site.call("/api/v1/verifications?image=none", data, conn=conn)
            assert status == 200, body[:300]
            with lock:
                times.append(time.perf_counter() - start)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"rate": len(times) / wall, "p50": pct(times, 0.5), "p95": pct(times, 0.95),
            "cores": (site.cpu_seconds(pids) - cpu0) / wall}


def overload(site: Site, data: bytes, clients: int, seconds: float) -> dict[str, float]:
    results: list[tuple[int, float, float, str]] = []  # status, latency, queue wait, code
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=site.queue_timeout + 30)
        for _ in range(1000):
            if time.monotonic() >= stop_at:
                break
            start = time.perf_counter()
            try:
                status, headers, body = site.call("/api/v1/verifications?image=none", data, conn=conn)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=site.queue_timeout + 30)
                continue
            latency = time.perf_counter() - start
            code = "" if status == 200 else json.loads(body).get("code", "")
            with lock:
                results.append((status, latency, server_timing(headers, "queue"), code))
            if status == 503:
                time.sleep(min(float(headers.get("Retry-After", "1")), 1.0))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ok = [r for r in results if r[0] == 200]
    shed = [r for r in results if r[0] == 503 and r[3] == "overloaded"]
    other = [r for r in results if r not in ok and r not in shed]
    return {"requests": len(results), "ok": len(ok), "shed": len(shed), "other": len(other),
            "failures": len(failures), "rate": len(ok) / wall,
            "p50": pct([r[1] for r in ok], 0.5), "p95": pct([r[1] for r in ok], 0.95),
            "max_latency": max((r[1] for r in results), default=0.0),
            "max_queue": max((r[2] for r in results), default=0.0),
            "shed_p95": pct([r[1] for r in shed], 0.95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan", type=Path, help="scan to verify (default: the sample back, as `verify issue` writes)")
    parser.add_argument("--requests", type=int, default=20, help="requests per latency measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overload-seconds", type=float, default=20)
    parser.add_argument("--queue-timeout", type=float, default=10.0, help="VERIFY_QUEUE_TIMEOUT of the site")
    args = parser.parse_args()

    import verify
    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-load-"))
    try:
        keys = tmp / "keys"
        ring, _ = init_ring(keys, "bench")
        if args.scan:
            data = args.scan.read_bytes()
        else:
            cert = verify.issue(ring, serial="BENCH-0001", issuer="990001")
            data = verify.encode_image(cert.back, fmt="png")
        print(f"scan: {args.scan or 'sample back (PNG, as `python -m verify issue` writes it)'}, "
              f"{len(data) / 1e6:.1f} MB; {os.cpu_count()} cores; {args.workers} gunicorn workers")

        _init_worker(str(keys))
        site = Site(tmp, keys, args.workers, args.queue_timeout)
        try:
            site.warm_up(data, args.workers)
            lat = paired(site, data, args.requests)
            with cf.ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(str(keys),)) as pool:
                list(pool.map(_restore_once, [data] * args.workers))  # warm up every process
                lib_rates, site_runs = [], []
                for _ in range(2):  # alternate, so that both see the same background load
                    lib_rates.append(library_rate(pool, data, args.requests // 2 or 1, args.workers))
                    site_runs.append(concurrent(site, data, args.workers, args.requests // 2 or 1))
            over = overload(site, data, 10 * args.workers, args.overload_seconds)
        finally:
            site.stop()
        lib_rate = statistics.mean(lib_rates)
        par = {"rate": statistics.mean(r["rate"] for r in site_runs),
               "p50": statistics.median(r["p50"] for r in site_runs),
               "p95": max(r["p95"] for r in site_runs), "cores": statistics.mean(r["cores"] for r in site_runs)}
        lib = lat["library"]

        print()
        print("| measurement | verifications/s | p50 ms | p95 ms | web overhead |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| library `verify.restore`, 1 process | {1 / pct(lib, 0.5):.2f} | {pct(lib, 0.5) * 1e3:.0f} | "
              f"{pct(lib, 0.95) * 1e3:.0f} | |")
        for image in IMAGES:
            t = lat[image]
            # overhead: median of the paired ratios (each site call against the library call beside it)
            overhead = (statistics.median(a / b for a, b in zip(t, lib, strict=True)) - 1) * 100
            print(f"| site, 1 client, `?image={image}` | {1 / pct(t, 0.5):.2f} | {pct(t, 0.5) * 1e3:.0f} | "
                  f"{pct(t, 0.95) * 1e3:.0f} | {overhead:+.1f}% |")
        print(f"| library, {args.workers} processes | {lib_rate:.2f} | | | |")
        print(f"| site, {args.workers} clients, `?image=none` | {par['rate']:.2f} | {par['p50'] * 1e3:.0f} | "
              f"{par['p95'] * 1e3:.0f} | {(lib_rate / par['rate'] - 1) * 100:+.1f}% (throughput) |")
        print(f"| site, {10 * args.workers} clients (10x overload) | {over['rate']:.2f} | {over['p50'] * 1e3:.0f} | "
              f"{over['p95'] * 1e3:.0f} | |")
        print()
        print(f"inside the site, per verification (p50): reading the upload {pct(lat['read'], 0.5) * 1e3:.0f} ms, "
              f"pipeline and log entry {pct(lat['verify'], 0.5) * 1e3:.0f} ms; library call alone "
              f"{pct(lib, 0.5) * 1e3:.0f} ms")
        print(f"workers' cores busy with {args.workers} clients: {par['cores']:.2f} of {args.workers}")
        print(f"overload, {args.overload_seconds:.0f} s: {over['requests']} answers: {over['ok']} verified, "
              f"{over['shed']} shed with 503 overloaded (p95 {over['shed_p95'] * 1e3:.0f} ms), {over['other']} other, "
              f"{over['failures']} connection failures or timeouts")
        print(f"overload: longest wait for a slot {over['max_queue']:.2f} s (bound {args.queue_timeout:.0f} s), "
              f"longest request {over['max_latency']:.2f} s")
        ok = (over["other"] == 0 and over["failures"] == 0 and over["max_queue"] <= args.queue_timeout)
        print("overload behaviour:", "OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
