"""What a forger can do against format v1 today, measured against the real pipeline.

    python bench/forgery.py [--classes clean office300 phone]

(a) Known plaintext: from one genuine certificate's front and a scan of its back, recover the block map by
    matching blocks (the format is public, so the forger rectifies the back exactly as the verifier does), then
    build a back for a front with one changed digit in the address, one in the birth date and one changed
    character in the name, under the genuine, validly signed code; print it and scan it.
(b) Splicing: the scrambled area of one certificate under the code of another.
(c) Oracle probing: crafted scrambled areas under a genuine code (flat grey, noise, and a genuine area with a few
    cells blacked out to see where they land).
(d) An edited code (serial changed, signature kept).
Last, for sizing a content fingerprint: how far the three changed characters move the mean gray level of small
cells of the restored front, against how far printing and scanning move them on genuine backs.

For each it prints the verifier's answer; for a forgery that verifies, the SSIM of the restored front against the
altered front and against the genuine one, i.e. whether the site would show the forger's page.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.forgery import with_code  # noqa: E402
from verify import IssuingKey, KeyRing, encode_image, errors, issue, restore, spec  # noqa: E402
from verify.code import parse_code  # noqa: E402
from verify.derive import BlockMap  # noqa: E402
from verify.intake import iter_pages, open_upload  # noqa: E402
from verify.issuing import fit_front  # noqa: E402
from verify.locate import locate_markers, measure_dots  # noqa: E402
from verify.model import Limits  # noqa: E402
from verify.render import render_back  # noqa: E402
from verify.sample import default_fields, render_sample_front  # noqa: E402
from verify.scramble import scramble, turn  # noqa: E402
from verify.simulate import CLASSES, scan_bytes  # noqa: E402

IDENTITY = BlockMap(np.arange(spec.COLS * spec.ROWS, dtype=np.int32), np.zeros(spec.COLS * spec.ROWS, np.uint8))


def printed_cells(scan: bytes) -> np.ndarray:
    """Every printed cell of a scanned back, upright as printed, in printed order: (cells, BLOCK, BLOCK) gray."""
    page = next(iter_pages(scan, open_upload(scan, Limits()), Limits()))
    gray = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    grid = measure_dots(gray, locate_markers(gray))
    map_x, map_y = grid.block_maps(IDENTITY)
    cells = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cells.reshape(-1, spec.BLOCK, spec.BLOCK)


def _normalise(blocks: np.ndarray) -> np.ndarray:
    """Blocks as 8 x 8 thumbnails stretched to the image's own ink and paper levels."""
    small = blocks.reshape(len(blocks), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(blocks), 64)
    lo, hi = np.percentile(small, [1, 99])
    return np.clip((small - lo) / max(hi - lo, 1.0), 0, 1).astype(np.float32)


def recover_block_map(front: np.ndarray, scan: bytes) -> BlockMap:
    """The forger's block map: for each printed cell, the front block and turn that match it best."""
    b = spec.BLOCK
    gray = cv2.cvtColor(fit_front(front), cv2.COLOR_RGB2GRAY)
    blocks = gray.reshape(spec.ROWS, b, spec.COLS, b).swapaxes(1, 2).reshape(-1, b, b)
    candidates = np.concatenate([turn(blocks, t) for t in range(8)])  # index t * n + block
    a, c = _normalise(printed_cells(scan)), _normalise(candidates)
    distance = (a * a).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * a @ c.T
    best = distance.argmin(axis=1)
    n = len(blocks)
    return BlockMap((best % n).astype(np.int32), (best // n).astype(np.uint8))


def altered_fields(serial: str, issued_on: dt.date):
    """The genuine household with one digit of the address, one of the birth date and one character of the name
    changed."""
    fields = default_fields(serial=serial, issued_on=issued_on)
    first = fields.residents[0]
    forged_first = dataclasses.replace(first, name=first.name.replace("太郎", "次郎"),
                                       birth=first.birth.replace("55年", "56年"))
    return dataclasses.replace(fields, address=fields.address.replace("2番3号", "2番8号"),
                               residents=(forged_first, *fields.residents[1:]))


FIELDS = ("address", "resident0.birth", "resident0.name")


def shows_altered(restored: np.ndarray, altered, genuine: np.ndarray) -> str:
    """For each changed field, whether the restored front is closer to the altered or to the genuine text there."""
    def field(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = (round(v * spec.FRONT_W / altered.image.shape[1]) for v in box)  # page px to front px
        small = cv2.resize(img, (spec.FRONT_W, spec.FRONT_H), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)

    words = []
    for name in FIELDS:
        box = altered.regions[name]
        here = field(restored, box)
        to_altered = np.abs(here - field(altered.image, box)).mean()
        to_genuine = np.abs(here - field(genuine, box)).mean()
        words.append(f"{name} {'ALTERED' if to_altered < to_genuine else 'genuine'}")
    return ", ".join(words)


def outcome(data: bytes, ring: KeyRing, altered=None, genuine: np.ndarray | None = None) -> str:
    try:
        result = restore(data, ring)
    except errors.VerifyError as exc:
        return f"refused: {exc.code}"
    text = "VERIFIED"
    if altered is not None:
        text += f"; the site shows: {shows_altered(result.image, altered, genuine)}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", default=["clean", "office300", "phone"])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ring = KeyRing([IssuingKey.generate("bench")])
    day = dt.date(2026, 11, 27)
    genuine = issue(ring, serial="FORGE-000001", issued_on=day,
                    front=render_sample_front(default_fields(serial="FORGE-000001", issued_on=day)).image)
    other = issue(ring, serial="FORGE-000002", issued_on=day,
                  front=render_sample_front(default_fields(serial="FORGE-000002", issued_on=day, variant=2)).image)
    altered = render_sample_front(altered_fields("FORGE-000001", day))
    truth = BlockMap.derive(ring.get("bench").scramble_secret, genuine.facts.issuer, genuine.facts.serial)
    ink = cv2.cvtColor(fit_front(genuine.front), cv2.COLOR_RGB2GRAY).reshape(
        spec.ROWS, spec.BLOCK, spec.COLS, spec.BLOCK).swapaxes(1, 2).reshape(len(truth.perm), -1).std(axis=1) > 8
    a, g = altered_fields("FORGE-000001", day), default_fields(serial="FORGE-000001", issued_on=day)
    print(f"the forger's changes: address {g.address} -> {a.address}; birth {g.residents[0].birth} -> "
          f"{a.residents[0].birth}; name {g.residents[0].name} -> {a.residents[0].name}\n")
    print("(a) known plaintext: block map recovered from one genuine front and a scan of its back")
    for name in args.classes:
        case = CLASSES[name][min(1, len(CLASSES[name]) - 1)]
        scan, _ = scan_bytes(genuine.back, case, seed=11)
        learnt = recover_block_map(genuine.front, scan)
        content = ink[truth.perm]  # printed cells that show a block with content
        right = (learnt.perm == truth.perm) & (learnt.transform == truth.transform)
        design = scramble(fit_front(altered.image), learnt)
        forged_back = render_back(design, genuine.code, genuine.facts)
        forged_scan, _ = scan_bytes(forged_back, case, seed=12)
        print(f"  {name:<10} cells with content placed right: {right[content].mean():6.1%};"
              f" forged back: {outcome(forged_scan, ring, altered, genuine.front)}")

    print("\n(b) splicing: the scrambled area of one certificate under the code of another")
    print(f"  {outcome(encode_image(with_code(genuine.back, other.code), 'png'), ring)}")

    print("\n(c) oracle probing under a genuine code")
    x0, y0 = (round(spec.units_to_px(v)) for v in (spec.GRID_X, spec.GRID_Y))
    w, h = (round(spec.units_to_px(v)) for v in (spec.GRID_W, spec.GRID_H))
    rng = np.random.default_rng(5)
    probes = {
        "flat grey": np.full((h, w, 3), 160, np.uint8),
        "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
    }
    for label, area in probes.items():
        page = genuine.back.copy()
        page[y0:y0 + h, x0:x0 + w] = area
        print(f"  {label:<22} {outcome(encode_image(page, 'png'), ring)}")
    page = genuine.back.copy()
    pitch = spec.units_to_px(spec.PITCH)
    for cell in rng.choice(len(truth.perm), 5, replace=False):
        r, c = divmod(int(cell), spec.COLS)
        page[round(y0 + r * pitch):round(y0 + (r + 1) * pitch), round(x0 + c * pitch):round(x0 + (c + 1) * pitch)] = 0
    print(f"  {'5 cells blacked out':<22} {outcome(encode_image(page, 'png'), ring)}")

    print("\n(d) an edited code: serial changed, signature kept")
    payload, _, signature = parse_code(genuine.code)
    edited = dataclasses.replace(payload, serial="FORGE-999999").body() + signature
    print(f"  {outcome(encode_image(with_code(genuine.back, edited), 'png'), ring)}")

    fingerprint_sizing(ring, genuine, altered, [*args.classes, "dpi200", "fax"])


def cell_means(rgb: np.ndarray, size: int) -> np.ndarray:
    """Mean gray level of every size x size cell of a front at the restored resolution."""
    g = cv2.cvtColor(cv2.resize(rgb, (spec.FRONT_W, spec.FRONT_H), interpolation=cv2.INTER_AREA),
                     cv2.COLOR_RGB2GRAY).astype(np.float32)
    return g.reshape(spec.FRONT_H // size, size, spec.FRONT_W // size, size).mean(axis=(1, 3))


def fingerprint_sizing(ring: KeyRing, genuine, altered, classes: list[str]) -> None:
    print("\nsizing a content fingerprint: change of a cell's mean gray level (0-255)")
    for size in (8, 16):
        truth = cell_means(fit_front(genuine.front), size)
        change = np.sort(np.abs(cell_means(fit_front(altered.image), size) - truth).ravel())[::-1]
        print(f"  {size:>2} px cells: the three changed characters move cells by at most "
              f"{', '.join(f'{v:.0f}' for v in change[:5])}")
        for name in classes:
            noise = [np.abs(cell_means(restore(scan_bytes(genuine.back, case, seed=i)[0], ring).image, size) - truth)
                     for i, case in enumerate(CLASSES[name][:3])]
            print(f"             genuine {name:<10} scans move them by up to {np.max(noise):.0f} "
                  f"(99.9th percentile {np.percentile(noise, 99.9):.0f})")


if __name__ == "__main__":
    main()
