"""A scanned stack through the site: a 20-page PDF posted with ``?pages=all`` under gunicorn.

    python bench/stack.py [--certificates 6] [--rounds 3] [--workers 1]

The stack: the backs of ``--certificates`` certificates issued by ``verify.issue``, each printed and scanned three
times through the office class of ``tests/simulate.py`` (300 dpi, a few degrees off, JPEG 75), then a scanned
front and a scanned blank sheet, 20 pages in all, wrapped in one PDF as a scanner writes it (one JPEG per page).

1. Every back is found and verified with its page number; the front and the blank page are named.
2. Time: the stack posted whole against the same 20 pages posted one at a time (each its own JPEG upload), in
   alternating rounds in one run; the ratio is per page (the bar: within 10 %).
3. Memory: the resident memory of the worker and its children (PDFium draws in a child process), sampled every
   10 ms, above the worker's idle baseline after warming up: a single-page verification against the stack (the
   bar: the stack no more than one page's verification above the baseline).
4. Admission: a single page posted while the stack holds the worker's only verification slot: its wait, against
   VERIFY_QUEUE_TIMEOUT and gunicorn's timeout.
Only loopback is used; the server runs with CERTVERIFY_MAX_PAGES=20.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import img2pdf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import Site, server_timing  # noqa: E402

PAGES = 20


def scans(certificates: int) -> tuple[list[bytes], list[str]]:
    """The stack's pages as scanned JPEGs, and what each is (a serial, ``front`` or ``blank``)."""
    import verify
    from tests.simulate import CLASSES, scan_bytes
    from verify.keys import KeyRing
    from verify.paper import on_paper

    ring = KeyRing.load(os.environ["STACK_KEYS"])
    office = [c for c in CLASSES["office300"] if c.rotation_deg < 5 or 175 < c.rotation_deg < 185
              or c.rotation_deg > 355]  # as a sheet feeder takes them: upright or upside down
    pages, kinds = [], []
    first = None
    for i in range(certificates):
        cert = verify.issue(ring, serial=f"STACK-{i + 1:04d}", issuer="990001")
        first = first or cert
        for j in range(3):
            data, media = scan_bytes(cert.back, office[(3 * i + j) % len(office)], seed=31 * i + j)
            assert media == "image/jpeg"
            pages.append(data)
            kinds.append(cert.facts.serial)
    assert first is not None
    pages.append(scan_bytes(on_paper(first).front, office[0], seed=7)[0])
    kinds.append("front")
    pages.append(scan_bytes(np.full_like(first.back, 255), office[1], seed=8)[0])
    kinds.append("blank")
    return pages, kinds


class Memory:
    """The peak resident memory of a process and its children, sampled every 10 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for pid in [self.pid, *_children(self.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.01)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def post(site: Site, data: bytes, query: str) -> tuple[float, int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=300)
    start = time.perf_counter()
    status, headers, body = site.call(f"/api/v1/verifications{query}", data, conn=conn)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, status, headers, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=6, help="certificates, three scans of each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if 3 * args.certificates + 2 != PAGES:
        parser.error(f"the stack has {PAGES} pages: 3 x certificates + a front and a blank sheet")

    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-stack-"))
    try:
        keys = tmp / "keys"
        init_ring(keys, "bench")
        os.environ["STACK_KEYS"] = str(keys)
        t = time.perf_counter()
        pages, kinds = scans(args.certificates)
        stack = img2pdf.convert(pages)  # as a scanner writes it: each page the size of its picture at its dpi
        print(f"stack: {PAGES} pages ({3 * args.certificates} backs of {args.certificates} certificates, a front, "
              f"a blank sheet), {len(stack) / 1e6:.1f} MB PDF, made in {time.perf_counter() - t:.0f} s; "
              f"{os.cpu_count()} cores; {args.workers} gunicorn worker(s)")
        site = Site(tmp, keys, args.workers, queue_timeout=10.0, settings={"CERTVERIFY_MAX_PAGES": str(PAGES)})
        try:
            return run(site, pages, kinds, stack, args.rounds)
        finally:
            site.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(site: Site, pages: list[bytes], kinds: list[str], stack: bytes, rounds: int) -> int:
    worker = site.worker_pids()[0]
    for data in pages[:2]:  # warm up: the worker's first verification is slower
        post(site, data, "?image=none")
    post(site, stack, "?image=none&pages=all")
    time.sleep(0.5)
    baseline = Memory(worker).rss()

    # 1. every back verified with its page number, the front and the blank page named
    _, status, _, body = post(site, stack, "?image=none&pages=all")
    assert status == 200, body[:500]
    answer = json.loads(body)
    got = [(r["page"], r["certificate"]["serial"] if r["outcome"] == "verified" else r.get("skipped") or r["code"])
           for r in answer["results"]]
    want = [(i + 1, {"front": "no_back"}.get(k, k)) for i, k in enumerate(kinds)]
    correct = got == want
    print(f"pages answered: {len(got)} of {PAGES}; every back verified and the front and blank named: {correct}")
    if not correct:
        print("  expected", want, "\n  got     ", got)

    # 2. time: the stack whole against its pages one at a time, alternating
    whole, singles, verify_ms = [], [], []
    single_peak, stack_peak = 0, 0
    for _ in range(rounds):
        with Memory(worker) as mem:
            elapsed, status, headers, _ = post(site, stack, "?image=none&pages=all")
        assert status == 200
        whole.append(elapsed)
        verify_ms.append(server_timing(headers, "verify"))
        stack_peak = max(stack_peak, mem.peak)
        total = 0.0
        with Memory(worker) as mem:
            for data in pages:
                elapsed, status, _, _ = post(site, data, "?image=none")
                assert status in (200, 422)
                total += elapsed
        singles.append(total)
        single_peak = max(single_peak, mem.peak)
    ratio = statistics.median(w / s for w, s in zip(whole, singles, strict=True))

    # 4. a single page posted while the stack runs
    waited: list[float] = []

    def late_single() -> None:
        time.sleep(0.3)
        _, status, headers, body = post(site, pages[0], "?image=none")
        waited.append(server_timing(headers, "queue") if status == 200 else float("nan"))

    other = threading.Thread(target=late_single)
    other.start()
    post(site, stack, "?image=none&pages=all")
    other.join()

    mb = 1 / 2**20
    print()
    print("| measurement | figure |")
    print("| --- | ---: |")
    print(f"| stack of {PAGES} pages, whole (median of {rounds}) | {statistics.median(whole):.2f} s "
          f"({statistics.median(whole) / PAGES * 1e3:.0f} ms a page; slot held {statistics.median(verify_ms):.2f} s) |")
    print(f"| the same {PAGES} pages one at a time (median) | {statistics.median(singles):.2f} s "
          f"({statistics.median(singles) / PAGES * 1e3:.0f} ms a page) |")
    print(f"| time per page, stack / single (bar 1.10) | {ratio:.3f} |")
    print(f"| worker baseline (idle after warm-up) | {baseline * mb:.0f} MB |")
    print(f"| peak above it, single pages | {(single_peak - baseline) * mb:.0f} MB |")
    print(f"| peak above it, the stack | {(stack_peak - baseline) * mb:.0f} MB |")
    print(f"| a single page posted during the stack waited | {waited[0]:.2f} s (VERIFY_QUEUE_TIMEOUT 10 s, "
          f"gunicorn timeout 60 s) |")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
