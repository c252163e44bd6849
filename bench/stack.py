"""A scanned stack through the site: a 20-page duplex PDF posted with ``?pages=all`` under gunicorn.

    python bench/stack.py [--rounds 3] [--workers 1]

The stack, as a sheet feeder scans both sides of a pile: ten certificates issued by ``verify.issue``, eight of one
sheet and two of two sheets, one of which lacks its second sheet; eight sheets with their paper front before the
back, three with the back alone, and a blank sheet: 20 pages, each printed and scanned through the office class of
``tests/simulate.py`` (300 dpi, upright or upside down, JPEG 75) and wrapped in one PDF as a scanner writes it (one
JPEG per page).

1. Every back is found and verified with its page number and sheet, every certificate is listed with its sheets,
   the missing sheet is named, the fronts and the blank page are named.
2. Time: the stack posted whole (its fronts compared with the backs they precede) against the same work as
   single uploads: the 20 pages posted one at a time, plus each comparison (a back posted with its front in the
   ``front`` field, less the back alone), in alternating rounds in one run; the ratio is per page (the bar:
   within 10 %).
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


# (serial, sheet, sheets, whether its front is scanned before its back); the blank sheet goes after the 6th sheet
SHEETS = [(f"STACK-{n:04d}", 1, 1, n <= 6) for n in range(1, 9)] + [
    ("STACK-0009", 1, 2, True), ("STACK-0009", 2, 2, True),  # a certificate of two sheets
    ("STACK-0010", 1, 2, False),  # a certificate of two sheets whose second is not in the stack
]
BLANK_AFTER = 6


def scans() -> tuple[list[bytes], list[str]]:
    """The stack's pages as scanned JPEGs, and what each is (``SERIAL/sheet``, ``no_back`` or ``blank``)."""
    import verify
    from tests.simulate import CLASSES, scan_bytes
    from verify.keys import KeyRing
    from verify.paper import on_paper

    ring = KeyRing.load(os.environ["STACK_KEYS"])
    office = [c for c in CLASSES["office300"] if c.rotation_deg < 5 or 175 < c.rotation_deg < 185
              or c.rotation_deg > 355]  # as a sheet feeder takes them: upright or upside down
    pages: list[bytes] = []
    kinds: list[str] = []

    def scanned(rgb: np.ndarray, kind: str) -> None:
        data, media = scan_bytes(rgb, office[len(pages) % len(office)], seed=31 * len(pages))
        assert media == "image/jpeg"
        pages.append(data)
        kinds.append(kind)

    for number, (serial, sheet, count, with_front) in enumerate(SHEETS, start=1):
        cert = verify.issue(ring, serial=serial, issuer="990001", sheet=(sheet, count))
        if with_front:
            scanned(on_paper(cert).front, "no_back")
        scanned(cert.back, f"{serial}/{sheet}")
        if number == BLANK_AFTER:
            scanned(np.full_like(cert.back, 255), "blank")
    assert len(pages) == PAGES
    return pages, kinds


class Memory:
    """The peak resident memory of a process alone and with its descendants (PDFium draws a PDF's pages in a child
    of the forkserver the worker starts), sampled every 10 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.peak_own, self._stop = pid, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self, own: bool = False) -> int:
        total = 0
        for pid in [self.pid] if own else [self.pid, *_descendants(self.pid)]:
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
            self.peak_own = max(self.peak_own, self.rss(own=True))
            time.sleep(0.01)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def post(site: Site, data: bytes, query: str, content_type: str = "application/octet-stream"
         ) -> tuple[float, int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=300)
    start = time.perf_counter()
    status, headers, body = site.call(f"/api/v1/verifications{query}", data, conn=conn, content_type=content_type)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, status, headers, body


def pairs(kinds: list[str]) -> list[tuple[int, int]]:
    """(front, back) page indexes the stack pairs: a front directly before a back."""
    return [(i, i + 1) for i in range(len(kinds) - 1) if kinds[i] == "no_back" and "/" in kinds[i + 1]]


def with_front(back: bytes, front: bytes) -> tuple[bytes, str]:
    """A multipart upload of a back with its paper front in the ``front`` field."""
    boundary = "certverify-bench-boundary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n'
                    f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n"
                    for name, data in (("scan", back), ("front", front)))
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-stack-"))
    try:
        keys = tmp / "keys"
        init_ring(keys, "bench")
        os.environ["STACK_KEYS"] = str(keys)
        t = time.perf_counter()
        pages, kinds = scans()
        stack = img2pdf.convert(pages)  # as a scanner writes it: each page the size of its picture at its dpi
        print(f"stack: {PAGES} pages ({len(SHEETS)} backs of {len({s[0] for s in SHEETS})} certificates, "
              f"{kinds.count('no_back')} fronts, a blank sheet), {len(stack) / 1e6:.1f} MB PDF, made in "
              f"{time.perf_counter() - t:.0f} s; {os.cpu_count()} cores; {args.workers} gunicorn worker(s)")
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
    baseline, baseline_own = Memory(worker).rss(), Memory(worker).rss(own=True)

    # 1. every back verified with its page number and sheet, the certificates and the missing sheet, the fronts and
    # the blank page named
    _, status, _, body = post(site, stack, "?image=none&pages=all")
    assert status == 200, body[:500]
    answer = json.loads(body)
    got = [(r["page"], f"{r['certificate']['serial']}/{r['certificate']['sheet']}" if r["outcome"] == "verified"
            else r.get("skipped") or r["code"]) for r in answer["results"]]
    want = list(enumerate(kinds, start=1))
    certificates = {c["serial"]: (c["seen"], c["missing"]) for c in answer["certificates"]}
    want_certificates = {serial: ([n for s, n, _, _ in SHEETS if s == serial],
                                  [n for n in range(1, count + 1) if (serial, n) not in {(s[0], s[1]) for s in SHEETS}])
                         for serial, _, count, _ in SHEETS}
    correct = got == want and certificates == want_certificates
    missing = [f"{serial} sheet {n}" for serial, (_, gone) in certificates.items() for n in gone]
    print(f"pages answered: {len(got)} of {PAGES}; every back verified with its sheet, the fronts and the blank "
          f"page named: {got == want}; {len(certificates)} certificates, missing named: {', '.join(missing) or 'none'}"
          f" (right: {certificates == want_certificates})")
    if not correct:
        print("  expected", want, want_certificates, "\n  got     ", got, certificates)

    # 2. time: the stack whole against its pages one at a time, alternating
    whole, singles, verify_ms, comparisons = [], [], [], []
    single_peak, stack_peak, single_own, stack_own = 0, 0, 0, 0
    for _ in range(rounds):
        with Memory(worker) as mem:
            elapsed, status, headers, _ = post(site, stack, "?image=none&pages=all")
        assert status == 200
        whole.append(elapsed)
        verify_ms.append(server_timing(headers, "verify"))
        stack_peak, stack_own = max(stack_peak, mem.peak), max(stack_own, mem.peak_own)
        # the same work as single uploads: every page alone, and each comparison the stack makes, as the time a
        # back takes with its front in the ``front`` field over the time it takes alone
        alone: list[float] = []
        with Memory(worker) as mem:
            for data in pages:
                elapsed, status, _, _ = post(site, data, "?image=none", "image/jpeg")
                assert status in (200, 422)
                alone.append(elapsed)
            compared = 0.0
            for front, back in pairs(kinds):
                body, content_type = with_front(pages[back], pages[front])
                elapsed, status, _, _ = post(site, body, "?image=none", content_type)
                assert status == 200
                compared += elapsed - alone[back]
        singles.append(sum(alone) + compared)
        comparisons.append(compared)
        single_peak, single_own = max(single_peak, mem.peak), max(single_own, mem.peak_own)
    ratio = statistics.median(w / s for w, s in zip(whole, singles, strict=True))

    # 4. a single page posted while the stack runs
    waited: list[str] = []

    def late_single() -> None:
        time.sleep(1.0)  # the stack's 17 MB are read and its verification slot taken by then
        back = next(page for page, kind in zip(pages, kinds, strict=True) if "/" in kind)
        elapsed, status, headers, body = post(site, back, "?image=none")
        waited.append(f"waited {server_timing(headers, 'queue'):.2f} s" if status == 200 else
                      f"was answered {status} ({json.loads(body).get('error', {}).get('code')}) after {elapsed:.1f} s")

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
    print(f"| the same {PAGES} pages one at a time, and the {len(pairs(kinds))} comparisons (median) | "
          f"{statistics.median(singles):.2f} s ({statistics.median(singles) / PAGES * 1e3:.0f} ms a page; the "
          f"comparisons {statistics.median(comparisons):.2f} s) |")
    print(f"| time per page, stack / single (bar 1.10) | {ratio:.3f} |")
    print(f"| worker baseline (idle after warm-up; with its forkserver) | {baseline_own * mb:.0f} MB "
          f"({baseline * mb:.0f} MB) |")
    print(f"| peak above it, single pages: the worker (with PDF children) | {(single_own - baseline_own) * mb:.0f} MB "
          f"({(single_peak - baseline) * mb:.0f} MB) |")
    print(f"| peak above it, the stack: the worker (with PDF children) | {(stack_own - baseline_own) * mb:.0f} MB "
          f"({(stack_peak - baseline) * mb:.0f} MB) |")
    print(f"| a single page posted during the stack | {waited[0]} (VERIFY_QUEUE_TIMEOUT 10 s, "
          f"gunicorn timeout 60 s) |")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
