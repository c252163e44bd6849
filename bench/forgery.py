"""What a forger can do against a content-bound back (format v3 on), measured against the real pipeline, and what the
content check costs.

    python bench/forgery.py [--classes clean office300 ...] [--cases N] [--jobs N] [--patterned]

(a) Known plaintext: from one genuine certificate's front and a scan of its back, recover the block map by
    matching blocks (the format is public, so the forger rectifies the back exactly as the verifier does), then
    build a back for a front with one changed digit in the address, one in the birth date and one changed
    character in the name, under the genuine, validly signed code; print it and scan it.
(b) Splicing: the scrambled area of one certificate under the code of another.
(c) Oracle probing: crafted scrambled areas under a genuine code (flat grey, noise, and a genuine area with a few
    cells blacked out to see where they land).
(d) An edited code (serial changed, signature kept).
(e) Every single-digit change of the house number and of the date of birth, one at a time, with the exact block
    map, in an office scan and a phone photo: how many the image check names, and how many of the rest the signed
    text shows (the field's signed text differs from the forged front's). A changed digit that removes ink (4 -> 1)
    or moves it (2 -> 7) changes the fingerprint's cells far less than one that adds ink (3 -> 8).
(f) The exact forgery with red stamp ink, or a grey felt-tip, over every changed block: what hiding a change under
    marks achieves.
(g) The exact forgery printed on speckled paper: what grime all over the sheet achieves.
(h) The exact forgery folded in three (tests/field.py's fold, 1 and 2 mm): what a fold achieves, now that the
    cells beside a crease are compared too.
(i) The exact forgery photographed under glare: what light that veils part of the sheet achieves, now that the
    ink gain follows such light over the back.
(j) The exact forgery printed with its strokes moved a few pixels (tests/field.py's strokes_moved, 1.5 and 2.5 px):
    what a print that smears the cells' ink into their neighbours achieves, now that such a print is a doubt.
For (a), per degradation class of ``tests.simulate.CLASSES``: how many genuine scans verify and how many are
falsely called altered, how many forged scans are refused and whether the answer names the changed fields, the
largest cell differences genuine scans reach and the least a changed field comes out darker in a forged scan (the
margins on either side of the thresholds), and the time the content check adds (reading the data strip and
comparing the fingerprint) as a share of the whole verification. ``--patterned`` issues backs that carry the
printed page with its background security pattern (地紋), as backs did before format v3's issuer left it out.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.field import finish, fold, glare, speckled, strokes_moved  # noqa: E402
from tests.forgery import (  # noqa: E402
    GREY_TINT,
    STAMP_RED,
    altered_fields,
    changed_blocks,
    marked_over,
    rebuilt_back,
    recover_block_map,
    with_area,
    with_changes,
    with_code,
)
from tests.simulate import CLASSES, scan_bytes  # noqa: E402
from verify import IssuingKey, KeyRing, content, encode_image, errors, issue, restore, spec  # noqa: E402
from verify.code import parse_code  # noqa: E402
from verify.derive import BlockMap  # noqa: E402
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front  # noqa: E402


def outcome(data: bytes, ring: KeyRing) -> str:
    try:
        restore(data, ring)
    except errors.VerifyError as exc:
        return f"refused: {exc.code}"
    return "VERIFIED"


def _case(args):
    """One print-and-scan of a genuine or forged back under one degradation: (class, kind, outcome, ms, content ms,
    largest genuine cell differences, least darker changed field named)."""
    name, i, kind = args
    back = {"genuine": WORLD["genuine"].back, "forged": WORLD["forged_back"], "exact": WORLD["exact_back"]}[kind]
    data, _ = scan_bytes(back, CLASSES[name][i], seed=100 + i)
    t = time.perf_counter()
    least = None
    try:
        result = restore(data, WORLD["ring"])
        code, content_ms = "verified", result.timings_ms.get("content", 0.0)
        largest = (result.content.get("darker", 0.0), result.content.get("lighter", 0.0))
    except errors.VerifyError as exc:
        code, content_ms, largest = exc.code, 0.0, None
        if exc.code in ("altered", "content_unconfirmed"):
            changed = [r for r in exc.context["regions"] if r["name"] in FIELDS_CHANGED]
            code += "+" + ",".join(sorted(r["name"] for r in changed))
            least = min((r["darker"] for r in changed), default=None)
    return name, kind, code, (time.perf_counter() - t) * 1000, content_ms, largest, least


WORLD: dict = {}
FIELDS_CHANGED = {"address", "resident0.birth", "resident0.name"}


def _world(patterned: bool = False) -> None:
    ring = KeyRing([IssuingKey.generate("bench")])
    day = dt.date(2026, 11, 27)
    front = render_sample_front(default_fields(serial="FORGE-000001", issued_on=day), pattern=patterned)
    genuine = issue(ring, front=front.image, regions=protected_regions(front), texts=protected_texts(front),
                    serial="FORGE-000001", issued_on=day)  # its personal fields and text bound
    altered = render_sample_front(altered_fields("FORGE-000001", day), pattern=patterned)
    scan, _ = scan_bytes(genuine.back, CLASSES["office300"][0], seed=11)  # the forger's own flatbed scan
    learnt = recover_block_map(genuine.front, scan)  # a forger who cleaned the pattern off the paper front
    facts = genuine.facts
    truth = BlockMap.derive(ring.get("bench").scramble_secret, facts.issuer, facts.serial, facts.sheet_of)
    WORLD.update(ring=ring, genuine=genuine, altered=altered, learnt=learnt, day=day, patterned=patterned,
                 truth=truth,
                 forged_back=rebuilt_back(genuine, altered.image, learnt),
                 exact_back=rebuilt_back(genuine, altered.image, truth))  # the best a forger could do


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", default=sorted(CLASSES))
    parser.add_argument("--cases", type=int, default=4, help="scans per class and kind")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--patterned", action="store_true",
                        help="backs that carry the printed page with its background pattern")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    _world(args.patterned)
    genuine, ring, truth = WORLD["genuine"], WORLD["ring"], WORLD["truth"]
    right = (WORLD["learnt"].perm == truth.perm) & (WORLD["learnt"].transform == truth.transform)
    a, g = altered_fields("FORGE-000001", WORLD["day"]), default_fields(serial="FORGE-000001", issued_on=WORLD["day"])
    print(f"the forger's changes: address {g.address} -> {a.address}; birth {g.residents[0].birth} -> "
          f"{a.residents[0].birth}; name {g.residents[0].name} -> {a.residents[0].name}")
    print(f"block map learnt from one office scan of the genuine back: {right.mean():.1%} of cells right; the "
          f"fingerprint binds {len(genuine.fingerprint.regions)} regions at {genuine.fingerprint.cell} px cells\n")
    print("(a) per degradation class: genuine scans and scans of the back rebuilt for the altered front")
    print("  genuine: scans of the genuine back; learnt / exact: the back rebuilt for the altered front with the block")
    print("  map learnt by matching, or with the exact map (the best any forger could do); named: of the 3 changed")
    print("  fields, how many the answer names (mean); darker / lighter: largest genuine cell difference, in levels;")
    print(f"  forged: the least a changed field named comes out darker in the forged scans (thresholds: darker "
          f"{content.DARKER}, lighter {content.LIGHTER})\n")
    print(f"{'class':<10} {'genuine verified':>16} {'false alarms':>12} {'learnt refused':>14} {'exact refused':>13}"
          f" {'named':>6} {'darker':>7} {'lighter':>7} {'forged':>7} {'content ms':>10} {'of restore':>10}")
    jobs = [(n, i, k) for n in args.classes for i in range(min(args.cases, len(CLASSES[n])))
            for k in ("genuine", "forged", "exact")]
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        results = pool.map(_case, jobs)
    totals = {"genuine": 0, "verified": 0, "alarms": 0, "forged": 0, "refused": 0}
    for name in args.classes:
        mine = [r for r in results if r[0] == name]
        gen, learnt, exact = ([r for r in mine if r[1] == kind] for kind in ("genuine", "forged", "exact"))
        ok = sum(r[2] == "verified" for r in gen)
        alarms = sum(r[2].startswith("altered") for r in gen)
        named = [len(r[2].split("+", 1)[1].split(",")) if "+" in r[2] and r[2].split("+", 1)[1] else 0 for r in exact]
        share = [r[4] / r[3] for r in gen if r[2] == "verified" and r[3]]
        diffs = [r[5] for r in gen if r[5] is not None]
        refused = [sum(r[2] != "verified" for r in rows) for rows in (learnt, exact)]
        totals["genuine"] += len(gen)
        totals["verified"] += ok
        totals["alarms"] += alarms
        totals["forged"] += len(learnt) + len(exact)
        totals["refused"] += sum(refused)
        print(f"{name:<10} {ok:>10}/{len(gen):<5} {alarms:>12} {refused[0]:>8}/{len(learnt):<5} {refused[1]:>7}/{len(exact):<5}"
              f" {statistics.fmean(named) if named else 0:>6.1f} {max((d[0] for d in diffs), default=0):>7.2f}"
              f" {max((d[1] for d in diffs), default=0):>7.2f}"
              f" {min((r[6] for r in learnt + exact if r[6] is not None), default=0):>7.2f}"
              f" {statistics.fmean([r[4] for r in gen if r[2] == 'verified'] or [0]):>10.1f}"
              f" {statistics.fmean(share) if share else 0:>10.1%}")
        for r in mine:
            partial = r[1] == "exact" and "+" in r[2] and len(r[2].split("+", 1)[1].split(",")) < 3
            if (r[1] == "genuine" and r[2] != "verified") or (r[1] != "genuine" and r[2] == "verified") or partial:
                print(f"           {r[1]}: {r[2]}")
    print(f"\n  all classes: {totals['verified']}/{totals['genuine']} genuine verified, {totals['alarms']} false alarms, "
          f"{totals['refused']}/{totals['forged']} forged refused")

    print("\n(b) splicing")
    other_front = render_sample_front(default_fields(serial="FORGE-000002", issued_on=WORLD["day"], variant=2),
                                      pattern=args.patterned)
    other = issue(ring, serial="FORGE-000002", issued_on=WORLD["day"], front=other_front.image)
    print(f"  scrambled area under another's code and strip  {outcome(encode_image(with_area(other.back, genuine.back), 'png'), ring)}")
    print(f"  another's code over this back's strip          {outcome(encode_image(with_code(genuine.back, other.code), 'png'), ring)}")

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
    for cell in truth.perm[np.flatnonzero(np.isin(truth.perm, _field_blocks(genuine)))[:5]]:
        r, c = divmod(int(np.flatnonzero(truth.perm == cell)[0]), spec.COLS)
        page[round(y0 + r * pitch):round(y0 + (r + 1) * pitch), round(x0 + c * pitch):round(x0 + (c + 1) * pitch)] = 0
    print(f"  {'5 field cells blacked':<22} {outcome(encode_image(page, 'png'), ring)}")

    print("\n(d) an edited code: serial changed, signature kept")
    payload, _, signature = parse_code(genuine.code)
    edited = dataclasses.replace(payload, serial="FORGE-999999").body() + signature
    print(f"  {outcome(encode_image(with_code(genuine.back, edited), 'png'), ring)}")

    print("\n(f) the exact forgery with a stroke over the printed cell of every changed block: red stamp ink, or a grey "
          "felt-tip (the paper a fifth darker)")
    blocks = changed_blocks(genuine.front, WORLD["altered"].image)
    for ink_name, ink in (("red", STAMP_RED), ("grey", GREY_TINT)):
        marked = marked_over(WORLD["exact_back"], blocks, truth, ink=ink)
        for name in ("office300", "phone"):
            data, _ = scan_bytes(marked, CLASSES[name][1], seed=9)
            print(f"  {ink_name:<5} {name:<10} {_hidden_fields(data, ring)}; {len(blocks)} blocks marked over")

    print("\n(g) the exact forgery printed on speckled paper (tests/field.py's speckled: grime all over the sheet)")
    for name in ("office300", "phone"):
        rng = np.random.default_rng(3)
        data, _ = scan_bytes(speckled(WORLD["exact_back"], rng), CLASSES[name][1], seed=9)
        print(f"  {name:<10} {_hidden_fields(data, ring)}")

    print("\n(h) the exact forgery folded in three for an envelope (tests/field.py's fold), office scans")
    for shift in (1.0, 2.0):
        for seed in range(4):
            rng = np.random.default_rng(seed)
            data = finish(fold(WORLD["exact_back"], rng, shift_mm=shift), rng)
            print(f"  {shift:.0f} mm, case {seed}  {_hidden_fields(data, ring)}")

    print("\n(i) the exact forgery photographed under glare (tests/field.py's glare, 40 % veil; the ink gain then "
          "follows the light over the back)")
    for seed in range(8):
        rng = np.random.default_rng([seed, 5])
        data = finish(glare(WORLD["exact_back"], rng), rng, kind="phone")
        print(f"  case {seed}  {_hidden_fields(data, ring)}")

    print("\n(j) the exact forgery printed with its strokes moved (tests/field.py's strokes_moved), office scans")
    for shift in (1.5, 2.5):
        for seed in range(4):
            rng = np.random.default_rng([seed, 6])
            data = finish(strokes_moved(WORLD["exact_back"], rng, shift_px=shift), rng)
            print(f"  {shift} px, case {seed}  {_hidden_fields(data, ring)}")

    _digits_report(args.jobs)


def _hidden_fields(data: bytes, ring: KeyRing) -> str:
    """What the answer to a forged scan with its changes hidden says of the changed fields."""
    try:
        result = restore(data, ring)
    except errors.VerifyError as exc:
        named = {r.get("name") for r in (exc.context or {}).get("regions", [])}
        return f"refused: {exc.code}" + (f", changed fields named {len(FIELDS_CHANGED & named)}/3" if named else "")
    unchecked = {u["name"]: u["reason"] for u in result.content.get("unchecked", [])}
    shown = {f["name"] for f in result.content.get("signed_text", [])}
    return (f"verified; changed fields not checked: "
            f"{', '.join(f'{n} ({unchecked[n]})' for n in sorted(FIELDS_CHANGED & set(unchecked))) or '-'}; "
            f"changed fields reported as matching: {', '.join(sorted(FIELDS_CHANGED - set(unchecked))) or '-'}; "
            f"their signed text shown: {len(FIELDS_CHANGED & shown)}/3")


DIGIT_CHANGES = {  # field -> the printed text around the digit and where the digit is in it
    "address": [("2番", 0), ("3号", 0)],
    "resident0.birth": [("55年", 1), ("4月", 0), ("1日", 0)],
}
FIELD_CHANGE = {"address": "address", "resident0.birth": "birth"}  # region name -> with_changes argument
DIGIT_CLASSES = ("office300", "phone")


def _digit_changes() -> list[tuple[str, str, str]]:
    """(field, printed text, forged text) for every other digit in every place of DIGIT_CHANGES."""
    out = []
    for field, places in DIGIT_CHANGES.items():
        for text, at in places:
            out += [(field, text, text[:at] + d + text[at + 1:]) for d in "0123456789" if d != text[at]]
    return out


def _digit_case(args) -> tuple[str, str, str, str, bool, bool]:
    """One single-digit forgery, exact map, printed and scanned: (class, field, text, forged text, named by the
    image check, shown by the signed text)."""
    (field, text, forged), name = args
    fields = with_changes(default_fields(serial="FORGE-000001", issued_on=WORLD["day"]),
                          **{FIELD_CHANGE[field]: (text, forged)})
    front = render_sample_front(fields, pattern=WORLD["patterned"])
    data, _ = scan_bytes(rebuilt_back(WORLD["genuine"], front.image, WORLD["truth"]), CLASSES[name][1], seed=7)
    named = shown = False
    forged_text = front.texts[field]
    try:
        signed = restore(data, WORLD["ring"]).content.get("signed_text", [])
        shown = any(f["name"] == field and f["text"] != forged_text for f in signed)
    except errors.ContentMismatch as exc:
        named = field in {r["name"] for r in exc.context["regions"]}
    except errors.VerifyError:
        pass
    return name, field, text, forged, named, shown


def _digits_report(jobs: int) -> None:
    print("\n(e) every single-digit change, one at a time, exact map: named by the image check, shown by the signed "
          "text, of those made")
    tasks = [(change, name) for change in _digit_changes() for name in DIGIT_CLASSES]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        results = pool.map(_digit_case, tasks)
    for name in DIGIT_CLASSES:
        for field, places in DIGIT_CHANGES.items():
            for text, _ in places:
                mine = [r for r in results if r[0] == name and r[1] == field and r[2] == text]
                missed = " ".join(r[3] for r in mine if not r[4] and not r[5])
                print(f"  {name:<10} {field:<16} {text:<4} named {sum(r[4] for r in mine):>2}, "
                      f"shown {sum(r[5] for r in mine):>2} of {len(mine):<2}  missed by both: {missed or '-'}")
    print(f"  all: {sum(r[4] for r in results)} named by the image check, {sum(r[5] for r in results)} of the rest "
          f"shown by the signed text, {sum(r[4] or r[5] for r in results)}/{len(results)} caught")


def _field_blocks(cert) -> np.ndarray:
    """Front blocks inside the bound regions."""
    blocks = set()
    for region in cert.fingerprint.regions:
        x0, y0, x1, y1 = region.box(cert.fingerprint.cell)
        for by in range(y0 // spec.BLOCK, (y1 - 1) // spec.BLOCK + 1):
            for bx in range(x0 // spec.BLOCK, (x1 - 1) // spec.BLOCK + 1):
                blocks.add(by * spec.COLS + bx)
    return np.array(sorted(blocks))


if __name__ == "__main__":
    main()
