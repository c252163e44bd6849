"""Print and scan a page with Augraphy, a document-degradation model the project did not write.

Runs under the bench's own virtual environment (bench/field.py creates it; Augraphy pulls desktop OpenCV, which the
project does not depend on):

    bench/.venv-augraphy/bin/python bench/augraphy_scan.py PAGE.png OUT_DIR --variant default --seeds 1 2 3

writes OUT_DIR/<variant>-<seed>.png for every seed, and beside it <variant>-<seed>.json, the augmentations that
ran. ``default`` is Augraphy's default pipeline (its ink, paper and post phases: ink bleed, low ink lines, paper
texture, scanner noise and so on, each applied at random as Augraphy decides); ``print`` is its ink and paper phases
alone, the print without the post phase's handling and scanner effects (bands of the page shifted by a glitch, rows
of pixels squished out, the page mirrored, folds at any angle, a book's binding, a fax); ``creased`` is the default
with two horizontal folds added (the sheet folded in three) and toner streaks along the feed. Prints one line per
page with the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import cv2
import matplotlib.font_manager  # noqa: F401  Augraphy's Scribbles reads it as an attribute of matplotlib
import numpy as np
from augraphy import AugmentationSequence, default_augraphy_pipeline
from augraphy.augmentations import Folding, LowInkPeriodicLines, LowInkRandomLines


def _ran(log: dict) -> list[str]:
    """The names of the augmentations that ran, from an Augraphy log (which names a OneOf's choice after it)."""
    return [name for name, status in zip(log["augmentation_name"], log["augmentation_status"], strict=True)
            if status and name not in ("OneOf", "AugmentationSequence")]


def degrade(page: np.ndarray, variant: str, seed: int) -> tuple[np.ndarray, list[str]]:
    """The page (BGR uint8) after Augraphy's print and scan, and the augmentations that ran. The seed draws which
    augmentations run and how; a few of them also draw from generators of their own, so pages are not bit for
    bit the same from run to run."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    cv2.setRNGSeed(seed % (1 << 31))
    pipeline = default_augraphy_pipeline()
    if variant == "print":
        pipeline.post_phase = AugmentationSequence([])
    data = pipeline.augment(page)
    out, ran = data["output"], _ran(data["log"])
    if variant == "creased":
        h, w = out.shape[:2]
        # Augraphy folds along vertical lines: turn the page so the folds run across it, as an envelope fold does.
        turned = cv2.rotate(out, cv2.ROTATE_90_CLOCKWISE)
        folds = Folding(fold_x=None, fold_deviation=(0, 0), fold_count=2, fold_noise=0.0, fold_angle_range=(-2, 2),
                        gradient_width=(0.05, 0.1), gradient_height=(0.002, 0.005), backdrop_color=(0, 0, 0))
        turned = folds(turned, force=True)
        out = cv2.rotate(turned, cv2.ROTATE_90_COUNTERCLOCKWISE)
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA) if out.shape[:2] != (h, w) else out
        streaks = LowInkPeriodicLines(count_range=(2, 4), period_range=(40, 80), use_consistent_lines=True,
                                      noise_probability=0.05)
        out = cv2.rotate(streaks(cv2.rotate(out, cv2.ROTATE_90_CLOCKWISE), force=True),
                         cv2.ROTATE_90_COUNTERCLOCKWISE)  # lines along the feed: vertical on the page
        out = LowInkRandomLines(count_range=(3, 6), use_consistent_lines=True, noise_probability=0.05)(out, force=True)
        ran += ["Folding", "LowInkPeriodicLines", "LowInkRandomLines"]
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    return out, ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--variant", choices=("default", "print", "creased"), default="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    page = cv2.imread(str(args.page), cv2.IMREAD_COLOR)
    if page is None:
        raise SystemExit(f"cannot read {args.page}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        t = time.perf_counter()
        out, ran = degrade(page, args.variant, seed)
        path = args.out_dir / f"{args.variant}-{seed}.png"
        cv2.imwrite(str(path), out)
        path.with_suffix(".json").write_text(json.dumps({"augmentations": ran}))
        print(f"{path} {time.perf_counter() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
