"""The restored front's image formats: size, encoding time and legibility of each against lossless PNG.

    python bench/image_formats.py [--repeat 7] [--crops DIR]

A sample back, scanned as an office scanner at 300 dpi would (``tests.simulate``), is restored once; its front is
then encoded as PNG (what the API sends by default), JPEG and WebP at several qualities. For each:

- size of the file, and of the data: URL the result page embeds;
- encoding time (median of ``--repeat``), and as a share of the verification that produced the image (restore
  time, measured in the same run);
- legibility: SSIM against the lossless image at full resolution, over the whole page and over the personal
  fields only (the small print a reader compares character by character), and the worst field's SSIM.

``--crops DIR`` writes the smallest field of each encoding, enlarged 3x, to look at by eye.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.metrics import ssim, to_gray  # noqa: E402
from tests.simulate import CLASSES, scan_bytes  # noqa: E402
from verify import IssuingKey, KeyRing, encode_image, issue, restore  # noqa: E402
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front  # noqa: E402

ENCODINGS = [("png", 0), ("jpeg", 90), ("jpeg", 80), ("jpeg", 70), ("webp", 90), ("webp", 80), ("webp", 70),
             ("webp", 60)]


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--crops", type=Path)
    args = parser.parse_args()
    cv2.setNumThreads(1)

    ring = KeyRing([IssuingKey.generate("bench")])
    front = render_sample_front(default_fields(serial="BENCH-000001"))
    cert = issue(ring, front=front.image, regions=protected_regions(front), texts=protected_texts(front),
                 serial="BENCH-000001", issued_on=dt.date(2026, 11, 27))
    data, _ = scan_bytes(cert.back, CLASSES["office300"][0], seed=1)
    restore_s, result = timed(lambda: restore(data, ring), args.repeat)
    image = result.image
    height, width = image.shape[:2]
    gray = to_gray(image)
    fields = [f["box"] for f in result.content.get("signed_text", [])]
    print(f"restored front {width} x {height} px; restore {restore_s * 1e3:.0f} ms (median of {args.repeat}); "
          f"{len(fields)} personal fields")
    smallest = min(fields, key=lambda b: b[2] * b[3])

    print()
    print("| format | file KB | data: URL KB | encode ms | share of restore | SSIM page | SSIM fields | "
          "worst field |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for fmt, quality in ENCODINGS:
        seconds, encoded = timed(lambda fmt=fmt, quality=quality: encode_image(image, fmt=fmt, quality=quality or 90),
                                 args.repeat)
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        back = to_gray(decoded)
        per_field = [ssim(gray[y:y + h, x:x + w], back[y:y + h, x:x + w]) for x, y, w, h in fields]
        url = len(f"data:image/{fmt};base64,") + len(base64.b64encode(encoded))
        name = fmt if fmt == "png" else f"{fmt} {quality}"
        print(f"| {name} | {len(encoded) / 1024:.0f} | {url / 1024:.0f} | {seconds * 1e3:.1f} | "
              f"{seconds / restore_s:.0%} | {ssim(gray, back):.4f} | {statistics.fmean(per_field):.4f} | "
              f"{min(per_field):.4f} |")
        if args.crops:
            args.crops.mkdir(parents=True, exist_ok=True)
            x, y, w, h = smallest
            crop = cv2.resize(decoded[y:y + h, x:x + w], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(args.crops / f"{name.replace(' ', '-')}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
