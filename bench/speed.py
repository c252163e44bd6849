"""Speed of one verification, single-threaded: per-stage times, the ratio to a plain decode, encoding, memory.

    python bench/speed.py [--runs N]

For 300 and 600 dpi office scans (JPEG) of the backs of four sample certificates, taken in turn, it prints the
median time of each stage (decode, locate with the markers, code, refine with the dots, content: the data strip,
warp: every front block resampled from its printed cell, which descrambles as it warps, and tone, finish:
coherence check, sharpening, composing luminance and colour, then content again: the comparison with the
fingerprint), the time from upload bytes to restored array, the time of a plain ``cv2.imdecode`` of the same bytes
measured in the same run (the two alternate, run after run, so that load from elsewhere on the machine falls on
both), and their ratio; then the time to encode the restored front in each output format; then the peak resident
memory of one restore in a fresh process.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.simulate import CLASSES, scan_bytes  # noqa: E402
from verify import IssuingKey, KeyRing, encode_image, issue, restore  # noqa: E402
from verify.output import FORMATS  # noqa: E402

CERTIFICATES = 4  # backs of different certificates, taken in turn: how evenly a page's paper white comes out, and
# with it the cost of the tone step, depends on what is printed where


def median_ms(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def peak_memory_mb(scan: Path, keys: Path) -> float:
    """Peak resident memory of one restore above the loaded interpreter, in a fresh process, in MB."""
    code = f"""
import resource, cv2
cv2.setNumThreads(1)
from verify import KeyRing, restore
ring = KeyRing.load({str(keys)!r}); data = open({str(scan)!r}, 'rb').read()
def rss_kb(field):
    return next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith(field))
before = rss_kb('VmRSS:')
restore(data, ring)
print((rss_kb('VmHWM:') - before) / 1024)
"""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=16)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ring = KeyRing([IssuingKey.generate("bench")])
    day = dt.date(2026, 11, 27)
    certs = [issue(ring, serial=f"BENCH-{n:06d}", issued_on=day) for n in range(1, 1 + CERTIFICATES)]
    office = CLASSES["office300"][1]
    cases = {dpi: dataclasses.replace(office, dpi=dpi, name=f"office/{dpi}dpi") for dpi in (300, 600)}
    report: dict[str, object] = {}
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "certverify-bench"
    tmp.mkdir(exist_ok=True)
    keys = tmp / "keys"
    for old in keys.glob("*.json"):
        old.unlink()
    KeyRing().save(keys, ring.get("bench"))

    print(f"single-threaded (cv2.setNumThreads(1)), median of {args.runs} runs over {CERTIFICATES} certificates\n")
    for dpi, case in cases.items():
        scans = [scan_bytes(cert.back, case, seed=1)[0] for cert in certs]
        for data in scans:
            restore(data, ring)  # warm caches (detector, fonts)
        decode_times, total_times, results = [], [], []
        for run in range(args.runs):  # a plain decode, then a restore of the same bytes, round after round
            data = scans[run % len(scans)]
            t0 = time.perf_counter()
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            results.append(restore(data, ring))
            total_times.append((time.perf_counter() - t1) * 1000)
            decode_times.append((t1 - t0) * 1000)
        decode_ms, total_ms = statistics.median(decode_times), statistics.median(total_times)
        stages = {k: statistics.median(r.timings_ms.get(k, 0.0) for r in results) for k in results[0].timings_ms}
        h, w = img.shape[:2]
        print(f"{dpi} dpi A4 JPEG, {w}x{h} px, {statistics.mean(map(len, scans)) / 1e6:.2f} MB")
        for stage, ms in stages.items():
            print(f"  {stage:<11} {ms:7.1f} ms")
        print(f"  bytes -> restored array {total_ms:7.1f} ms")
        print(f"  plain cv2.imdecode      {decode_ms:7.1f} ms")
        print(f"  ratio                   {total_ms / decode_ms:7.2f} x")
        report[f"{dpi}dpi"] = {"stages_ms": stages, "restore_ms": total_ms, "imdecode_ms": decode_ms,
                               "ratio": total_ms / decode_ms}
        if dpi == 300:
            scan_path = tmp / "scan300.jpg"
            scan_path.write_bytes(data)
            front = results[-1].image

    print("\nencoding the restored front (1312 x 1856 RGB)")
    for fmt in FORMATS:
        ms, blob = median_ms(lambda fmt=fmt: encode_image(front, fmt), args.runs)
        print(f"  {fmt:<5} {ms:7.1f} ms  {len(blob) / 1e3:8.0f} kB")
        report[f"encode_{fmt}_ms"] = ms

    mem = peak_memory_mb(scan_path, keys)
    print(f"\npeak memory of one 300 dpi restore: {mem:.0f} MB above the loaded interpreter")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB max RSS)")
    report["peak_memory_mb"] = mem
    print("\n" + json.dumps(report, default=float))


if __name__ == "__main__":
    main()
