"""What one rate-limit check costs in each storage: a moving-window hit, p50/p95, in microseconds.

    python bench/ratelimit_storage.py [--n 2000] [--redis URL]

memory:// (per process, the baseline measured in the same run), the embedded sqlite:// file (one process, then
two processes hitting the same key at once, as two gunicorn workers do) and Redis when --redis or TEST_REDIS_URL
names one. Each figure is also given as a multiple of the memory:// baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _times(uri: str, n: int, key: str) -> list[float]:
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    import web.ratelimit  # noqa: F401 (registers sqlite://)

    limiter = MovingWindowRateLimiter(storage_from_string(uri))
    limit = parse("1000000 per minute")
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        limiter.hit(limit, key)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def _worker(args: tuple[str, int, str]) -> list[float]:
    return _times(*args)


def _line(label: str, times: list[float], base: float | None) -> None:
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
    ratio = f"  {p50 / base:6.1f}x memory" if base else ""
    print(f"{label:34s} p50 {p50:8.1f} us  p95 {p95:8.1f} us{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
    args = parser.parse_args()
    memory = _times("memory://", args.n, "k")
    base = statistics.median(memory)
    _line("memory:// (per process)", memory, None)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'ratelimits.db'}"
        _line("sqlite:// one process", _times(uri, args.n, "one"), base)
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            both = pool.map(_worker, [(uri, args.n, "shared")] * 2)
        _line("sqlite:// two processes, one key", both[0] + both[1], base)
    if args.redis:
        _line("redis://", _times(args.redis, args.n, "bench-" + uuid.uuid4().hex), base)


if __name__ == "__main__":
    main()
