"""Cost of hostile uploads against a genuine scan: time and peak memory of one verification each, same run.

    python bench/abuse.py [--site]

For the worst file of each kind (a PDF of nested forms, a PDF form that draws itself, a one-pixel checkerboard PNG,
a ten-page TIFF of it, a 60 MP 16-bit RGBA PNG, a 60 MP float32 TIFF) and for a genuine 300 dpi office scan of a
certificate's back (as JPEG and as a one-page scanner PDF), it runs one ``verify.restore`` in a fresh Python process
(one OpenCV thread, as in the workers) and prints the answer's code, the wall time, the peak resident memory above
the loaded interpreter (VmHWM minus the resident size before the call) and both as ratios to the genuine JPEG
scan's (the genuine scans: the median of three processes). The forkserver that PDF children are forked from is started before the call, as it is after a worker's
first PDF, and its start is printed once. PDF pages are read in a child process whose memory is bounded by its address-space limit
(``intake.PDF_CHILD_MEMORY``), not counted in the parent's peak; its cost for a genuine scanner PDF is printed
separately: the round trip through the child against reading the page in-process, as before it existed.

With ``--site`` it also starts a real gunicorn from the worktree (two workers, as ``bench/load.py`` does) and sends
each file once to ``/api/v1/verifications`` while another client asks ``/healthz`` every 50 ms: the answer, its
time, the slowest ``/healthz`` meanwhile and the workers' largest resident size afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, sys, time
import cv2
cv2.setNumThreads(1)
sys.path.insert(0, {root!r})
from bench.abuse import ring
from verify import intake, restore
from verify.errors import VerifyError
data = open(sys.argv[1], 'rb').read()
keyring = ring()
from tests.pipeline import hostile
from verify.model import Limits
start = time.perf_counter()
blank = hostile.pdf(hostile._page_drawing(5) + [hostile._stream(b"/Type /XObject /Subtype /Form", b"")])
with intake._PdfChild(blank, Limits(), 1000) as child:  # as after a worker's first PDF
    child.take(0, pixels=False, jpeg=False)
server = time.perf_counter() - start
def status_kb(field):
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(field))
before = status_kb('VmRSS:')
start = time.perf_counter()
try:
    restore(data, keyring)
    code = 'verified'
except VerifyError as exc:
    code = exc.code
seconds = time.perf_counter() - start
peak = status_kb('VmHWM:')  # this process's high-water mark (ru_maxrss would carry the parent's across exec)
print(json.dumps({{"code": code, "seconds": seconds, "peak_mb": (peak - before) / 1024, "rss_mb": peak / 1024,
                  "server_seconds": server}}))
"""


def ring():
    """The fixed test key ring (the same seed as the tests')."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verify import IssuingKey, KeyRing

    seed = bytes(range(100, 132))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return KeyRing([IssuingKey("test-2026", bytes(range(32)), public, seed, "2026-01-01T00:00:00+00:00")])


def files(tmp: Path, ring_dir: Path | None = None) -> dict[str, Path]:
    """The genuine scans and the hostile files, written to ``tmp`` (only the genuine scans, issued under the key
    ring in ``ring_dir``, when given)."""
    import img2pdf

    from tests.pipeline import hostile
    from tests.simulate import CLASSES, scan_bytes
    from verify import KeyRing, issue

    keys = ring() if ring_dir is None else KeyRing.load(ring_dir)
    cert = issue(keys, serial="TEST-000001", issued_on=dt.date(2026, 11, 27))
    scan = scan_bytes(cert.back, CLASSES["office300"][0])[0]
    made = {
        "genuine 300 dpi JPEG": scan,
        "genuine 300 dpi PDF": img2pdf.convert(scan, layout_fun=img2pdf.get_fixed_dpi_layout_fun((300, 300))),
        "PDF of 10 nested forms": hostile.pdf_form_bomb(),
        "PDF self-drawing form": hostile.pdf_self_drawing_form(),
        "checkerboard PNG 165 px": hostile.checkerboard_png(165),
        "checkerboard TIFF 10 pages": hostile.checkerboard_tiff(10),
        "16-bit RGBA PNG 60 MP": hostile.png16_rgba(),
        "float32 TIFF 60 MP": hostile.float_tiff(),
    }
    if ring_dir is not None:
        made = {k: v for k, v in made.items() if k.startswith("genuine")}
    paths = {}
    for i, (name, data) in enumerate(made.items()):
        paths[name] = tmp / f"{i}.bin"
        paths[name].write_bytes(data)
    return paths


def one(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return {"code": f"exit {done.returncode}: {done.stderr[-300:]}", "seconds": float("nan"),
                "peak_mb": float("nan"), "rss_mb": float("nan"), "server_seconds": float("nan")}
    return json.loads(done.stdout.strip().splitlines()[-1])


def pdf_child_overhead(pdf: bytes, runs: int = 7) -> tuple[float, float]:
    """Median ms to take a genuine scanner PDF's page through the child process, and in-process (no bound)."""
    from verify import intake
    from verify.model import Limits

    limits = Limits()
    intake._pdf_context()  # the forkserver is started once per worker: not counted
    with intake._PdfChild(pdf, limits, limits.max_pixels) as child:
        child.take(0, pixels=True, jpeg=True)
    child_ms, local_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with intake._PdfChild(pdf, limits, limits.max_pixels) as child:
            child.take(0, pixels=True, jpeg=True)
        child_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with intake.PDFIUM_LOCK:
            doc = intake._open_pdf(pdf)
            try:
                intake._take_page(doc, 0, limits, limits.max_pixels, pixels=True, jpeg=True)
            finally:
                doc.close()
        local_ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(child_ms), statistics.median(local_ms)


def through_site(paths: dict[str, Path]) -> None:
    """Each file once through a real gunicorn, with another client's /healthz latency meanwhile."""
    import threading

    from bench.load import Site
    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-abuse-"))
    init_ring(tmp / "keys", "bench")
    # the genuine scans were issued under the test ring: re-issue them under the site's ring
    site_paths = dict(paths)
    genuine = files(tmp, ring_dir=tmp / "keys")
    site_paths["genuine 300 dpi JPEG"] = genuine["genuine 300 dpi JPEG"]
    site_paths["genuine 300 dpi PDF"] = genuine["genuine 300 dpi PDF"]
    site = Site(tmp, tmp / "keys", 2, 30.0)
    try:
        site.warm_up(site_paths["genuine 300 dpi JPEG"].read_bytes(), 2)
        print(f"\n{'through gunicorn (2 workers)':28} {'status':>6} {'answer':20} {'seconds':>8} "
              f"{'healthz max ms':>14} {'worker RSS MB':>13}")
        for name, path in site_paths.items():
            latencies: list[float] = []
            stop = threading.Event()

            def probe(stop: threading.Event = stop, latencies: list[float] = latencies) -> None:
                while not stop.is_set():
                    start = time.perf_counter()
                    try:
                        site.call("/healthz", None, "GET")
                    except OSError:
                        pass
                    latencies.append((time.perf_counter() - start) * 1000)
                    stop.wait(0.05)

            prober = threading.Thread(target=probe)
            prober.start()
            start = time.perf_counter()
            status, _, body = site.call("/api/v1/verifications?image=none", path.read_bytes())
            seconds = time.perf_counter() - start
            stop.set()
            prober.join()
            code = json.loads(body).get("code", "verified") if status != 200 else "verified"
            rss = max(_rss_mb(pid) for pid in site.worker_pids())
            print(f"{name:28} {status:6d} {code:20} {seconds:8.2f} {max(latencies, default=0):14.0f} {rss:13.0f}")
    finally:
        site.stop()


def _rss_mb(pid: int) -> float:
    try:
        return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = files(Path(tmp))
        results = {name: one(path) for name, path in paths.items()}
        for name in ("genuine 300 dpi JPEG", "genuine 300 dpi PDF"):  # the baselines: median of three processes
            runs = [results[name], one(paths[name]), one(paths[name])]
            results[name] = sorted(runs, key=lambda r: r["seconds"])[1]
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        child_ms, local_ms = pdf_child_overhead(paths["genuine 300 dpi PDF"].read_bytes())
        base = results["genuine 300 dpi JPEG"]
        print(f"{'upload':28} {'bytes':>9} {'answer':20} {'seconds':>8} {'x scan':>7} {'peak MB':>8} {'x scan':>7} "
              f"{'total MB':>8}")
        for name, r in results.items():
            print(f"{name:28} {sizes[name]:9d} {r['code']:20} {r['seconds']:8.2f} {r['seconds'] / base['seconds']:7.2f} "
                  f"{r['peak_mb']:8.0f} {r['peak_mb'] / base['peak_mb']:7.2f} {r['rss_mb']:8.0f}")
        print("(peak MB: resident high-water mark above the loaded interpreter; total MB: the process's high-water mark)")
        print(f"\nstarting the PDF forkserver and its first child, once per worker: {base['server_seconds']:.2f} s "
              "(not counted above)")
        pdf = results["genuine 300 dpi PDF"]
        print(f"\ngenuine PDF over genuine JPEG: {pdf['seconds'] / base['seconds']:.2f} x the time")
        print(f"genuine PDF page through the bounded child: {child_ms:.1f} ms, read in-process (unbounded): "
              f"{local_ms:.1f} ms; the child adds {child_ms - local_ms:.1f} ms, "
              f"{(child_ms - local_ms) / 1000 / pdf['seconds']:.1%} of that PDF's whole verification")
        if "--site" in sys.argv[1:]:
            through_site(paths)


if __name__ == "__main__":
    main()
