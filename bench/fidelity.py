"""Fidelity and robustness per degradation class: success rate and SSIM of the restored front.

    python bench/fidelity.py [--classes office300 phone ...] [--cases N] [--patterned]

Every case of ``tests.simulate.CLASSES`` is printed on a back, scanned through the degradation model, encoded as
the scanner would send it and verified through ``verify.restore`` from the bytes. SSIM is computed on grayscale
after resizing the restored and the true front to 656 px wide (``tests.metrics.fidelity``). The true front is the
certificate as issued, which the back carries; the kiosk prints it on a background security pattern (地紋) that
belongs to the paper and is made not to survive copying, so the back leaves it out (``verify.paper``). The
last column compares the restored front with that printed page, pattern and all. Two households
alternate so the figures do not rest on one page; their backs are today's (v4), binding the personal fields, so
every case also passes the content check (1-bit fax scans, which a v2 back refuses as content_unverifiable, are
measured on v1 backs). The cases outside the envelope must end in a clear error. ``--patterned`` issues backs that
carry the printed page with its pattern, as backs did before format v3's issuer left it out: most of what SSIM
loses then is the pattern.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.metrics import fidelity  # noqa: E402
from tests.simulate import CLASSES, OUT_OF_ENVELOPE, scan_bytes  # noqa: E402
from verify import IssuingKey, KeyRing, encode_image, errors, issue, restore  # noqa: E402
from verify.paper import print_on_ground  # noqa: E402
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front  # noqa: E402

BARS = {"clean": 0.97, "office300": 0.92, "dpi200": 0.88, "dpi600": 0.88, "phone": 0.75}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", default=sorted(CLASSES))
    parser.add_argument("--cases", type=int, default=0, help="at most this many cases per class (0: all)")
    parser.add_argument("--patterned", action="store_true",
                        help="backs that carry the printed page with its background pattern")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ring = KeyRing([IssuingKey.generate("bench")])
    fronts = [render_sample_front(default_fields(serial=f"BENCH-{v:06d}", variant=v), pattern=args.patterned)
              for v in (0, 2)]
    certs = [issue(ring, front=f.image, regions=protected_regions(f), texts=protected_texts(f),
                   serial=f"BENCH-{v:06d}", issued_on=dt.date(2026, 11, 27))
             for f, v in zip(fronts, (0, 2), strict=True)]
    # A 1-bit scan of a content-bound back is refused (content_unverifiable): its fidelity is measured on v1 backs.
    v1_certs = [issue(ring, front=f.image, serial=f"BENCH-1{v:05d}", issued_on=dt.date(2026, 11, 27), version=1)
                for f, v in zip(fronts, (0, 2), strict=True)]
    # the page the kiosk prints: each front on its background pattern (already on it with --patterned)
    papers = [f.image if args.patterned else print_on_ground(f.image) for f in fronts]

    print(f"{'class':<10} {'cases':>5} {'verified':>8} {'mean SSIM':>9} {'min SSIM':>8} {'bar':>5} "
          f"{'restore ms':>10} {'vs print':>8}  failures")
    all_ok = True
    for name in args.classes:
        cases = CLASSES[name][: args.cases or None]
        scores, printed, times, failures = [], [], [], []
        for i, case in enumerate(cases):
            cert = (v1_certs if name == "fax" else certs)[i % len(certs)]
            data, _ = scan_bytes(cert.back, case, seed=i)
            t = time.perf_counter()
            try:
                result = restore(data, ring)
            except errors.VerifyError as exc:
                failures.append(f"{case.name}: {exc.code}")
                continue
            times.append((time.perf_counter() - t) * 1000)
            if result.certificate.serial != cert.facts.serial:
                failures.append(f"{case.name}: wrong serial")
                continue
            scores.append(fidelity(result.image, cert.front))
            printed.append(fidelity(result.image, papers[i % len(papers)]))
        ok = len(scores)
        mean = statistics.fmean(scores) if scores else 0.0
        bar = BARS.get(name)
        all_ok &= ok == len(cases) and (bar is None or mean >= bar)
        print(f"{name:<10} {len(cases):>5} {ok / len(cases):>8.0%} {mean:>9.4f} {min(scores, default=0):>8.4f} "
              f"{bar if bar else '':>5} {statistics.median(times) if times else 0:>10.0f} "
              f"{statistics.fmean(printed) if printed else 0:>8.4f}  {'; '.join(failures)}")

    print("\noutside the envelope (each must be refused with a clear code)")
    cert = certs[0]
    outside = {
        "third_cut_off": scan_bytes(cert.back, OUT_OF_ENVELOPE["third_cut_off"], seed=3)[0],
        "too_low_dpi": scan_bytes(cert.back, OUT_OF_ENVELOPE["too_low_dpi"], seed=3)[0],
        "random_scene": encode_image(OUT_OF_ENVELOPE["random_scene"](3), "jpeg"),
        "text_page": encode_image(OUT_OF_ENVELOPE["text_page"](3), "jpeg"),
    }
    for name, data in outside.items():
        try:
            restore(data, ring)
            outcome = "VERIFIED (wrong: should be refused)"
            all_ok = False
        except errors.VerifyError as exc:
            outcome = exc.code
        print(f"  {name:<14} {outcome}")
    print("\nall inside the envelope verified and every bar met" if all_ok else "\nSOME BARS NOT MET")


if __name__ == "__main__":
    main()
