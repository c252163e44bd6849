"""Verdicts on genuine certificates under field conditions: never accuse a genuine back.

    python bench/field.py [--classes fold1 stamp-red ...] [--cases N] [--jobs N] [--seed N] [--key-seed N]
                          [--keep DIR]

Every run issues a genuine back of today's format (v4; v3's print) (the sample front, its personal fields and their text bound) under a new
random key (or, with ``--key-seed``, the same key every run), puts it through each condition of ``tests/field.py`` (folds, receiving stamps, sticky notes, pens,
staples, faded toner, tinted paper, colour casts, greyscale scans) and through Augraphy's print and scan (a
document-degradation model the project did not write, run in its own virtual environment, bench/.venv-augraphy,
created on first use: its default pipeline whole, its print alone (ink and paper phases, without the post phase's
handling and scanner effects), and the default with creases and toner streaks added), finishes each as an office
scan (or a phone photograph) and verifies the bytes with ``verify.restore``.

Per class it prints how many genuine backs were verified, asked to rescan (a refusal that accuses nobody:
markers_not_found, code_unreadable, content_unverifiable ...), and accused (altered, scramble_mismatch,
bad_signature, unknown_key: what tells the reader the paper may be forged); the largest genuine cell difference as
a share of its threshold (darker against content.ACCUSE, the accusation, and content.DARKER, the confirmation;
lighter against content.LIGHTER; from the result or from the regions a refusal names); the regions the answer says it
could not check, where it says so; and the time the verification took (the content check's share and any stage
today's pipeline does not have).

For Augraphy's pages it names the augmentations that ran on each page not verified. ``--keep DIR`` writes the run's
key ring to DIR/keys and every scan that was not verified to DIR/CLASS-CASE-CODE.jpg (with Augraphy's page before
the scan beside it, .page.png), so that ``python -m verify restore --keys DIR/keys DIR/augraphy-3-altered.jpg``
replays a case. Without it, accused scans and the key ring are still kept, in a new directory the run names.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import field  # noqa: E402
from tests.support import seeded_key  # noqa: E402
from verify import IssuingKey, KeyRing, content, errors, issue, restore, spec  # noqa: E402
from verify.fonts import face_in_use  # noqa: E402
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front  # noqa: E402

ACCUSING = {"altered", "scramble_mismatch", "bad_signature", "unknown_key"}
# class -> bench/augraphy_scan.py variant
AUGRAPHY = {"augraphy-print": "print", "augraphy": "default", "augraphy-creased": "creased"}
CLASSES = [*field.CONDITIONS, *AUGRAPHY]
STAGES_TODAY = {"decode", "locate", "code", "refine", "content", "warp", "finish"}
KNOWN_CONTENT = {"bound", "regions", "cell_px", "darker", "lighter", "signed_text", "checked", "marks"}
VENV = ROOT / "bench" / ".venv-augraphy"
REQUIREMENTS = ROOT / "bench" / "augraphy-requirements.txt"

WORLD: dict = {}


def _world(seed: int, key_seed: int | None = None) -> None:
    ring = KeyRing([IssuingKey.generate("field") if key_seed is None else seeded_key(key_seed)])
    day = dt.date(2026, 12, 5)
    serial = f"FIELD-{seed % 1000000:06d}"
    front = render_sample_front(default_fields(serial=serial, issued_on=day))
    cert = issue(ring, front=front.image, regions=protected_regions(front), texts=protected_texts(front),
                 serial=serial, issued_on=day)
    WORLD.update(ring=ring, cert=cert, seed=seed, keep=None, keep_all=False)


# --- Augraphy in its own virtual environment -----------------------------------------------------------------------


def _works(python: Path) -> bool:
    probe = subprocess.run([str(python), "-c", "import cv2, augraphy"], capture_output=True, text=True)
    return probe.returncode == 0


def augraphy_python() -> Path:
    """The Python of bench/.venv-augraphy with Augraphy importable, created on first use and brought back in step
    with bench/augraphy-requirements.txt whenever that file changes. Desktop OpenCV (Augraphy's dependency) needs
    libGL; where it is missing, the headless build of the same OpenCV takes its place."""
    python, stamp = VENV / "bin" / "python", VENV / "requirements.txt"
    pins = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == pins and _works(python):
        return python
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)} for Augraphy (once) ...", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    if not _works(python):  # no libGL: swap desktop OpenCV for the headless build of the same version
        pin = next(line.split("==")[1] for line in pins.splitlines() if line.startswith("opencv-python=="))
        subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "-y", "opencv-python"], check=True)
        subprocess.run([*pip, f"opencv-python-headless=={pin}"], check=True)
    if not _works(python):
        raise SystemExit(f"Augraphy does not import in {VENV}: "
                         + subprocess.run([str(python), "-c", "import cv2, augraphy"], capture_output=True,
                                          text=True).stderr.strip().splitlines()[-1])
    stamp.write_text(pins)
    return python


def augraphy_pages(classes: list[str], cases: int, jobs: int, seed: int, workdir: Path) -> dict[tuple[str, int], Path]:
    """Augraphy's print and scan of the genuine back, ``cases`` seeds per Augraphy class, ``jobs`` processes."""
    wanted = [c for c in classes if c in AUGRAPHY]
    if not wanted:
        return {}
    python = augraphy_python()
    page = workdir / "back.png"
    cv2.imwrite(str(page), cv2.cvtColor(WORLD["cert"].back, cv2.COLOR_RGB2BGR))
    script = ROOT / "bench" / "augraphy_scan.py"
    runs, pages = [], {}
    for name in wanted:
        seeds = [(seed % 1000000) * 1000 + i + 1 for i in range(cases)]
        for i, s in enumerate(seeds):
            pages[(name, i)] = workdir / f"{AUGRAPHY[name]}-{s}.png"
        for part in range(jobs):
            mine = seeds[part::jobs]
            if mine:
                runs.append([str(python), str(script), str(page), str(workdir), "--variant", AUGRAPHY[name],
                             "--seeds", *map(str, mine)])
    t = time.perf_counter()
    pending = list(runs)
    active: list[subprocess.Popen] = []
    fonts = sorted(Path("/usr/share/fonts").rglob("*.ttf"))
    while pending or active:
        while pending and len(active) < jobs:
            # each run in its own folder (Augraphy writes its cache and a fonts/ folder where it runs), with a local
            # font in fonts/ so that its scribbles never try to download one
            cwd = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
            if fonts:
                (cwd / "fonts").mkdir()
                shutil.copy(fonts[0], cwd / "fonts")
            active.append(subprocess.Popen(pending.pop(0), stdout=subprocess.DEVNULL, cwd=cwd))
        for proc in list(active):
            if proc.poll() is not None:
                active.remove(proc)
                if proc.returncode:
                    raise SystemExit(f"bench/augraphy_scan.py failed ({proc.returncode}): {' '.join(proc.args)}")
        time.sleep(0.2)
    print(f"Augraphy: {len(pages)} pages in {time.perf_counter() - t:.0f} s\n", flush=True)
    return pages


# --- one case ------------------------------------------------------------------------------------------------------


def _case(args):
    """One genuine back under one condition, finished as a scan and verified: a dict of what came out."""
    name, i, augraphy_page = args
    rng = np.random.default_rng([WORLD["seed"], CLASSES.index(name), i])
    back = WORLD["cert"].back
    ran = None
    if augraphy_page is not None:
        page = cv2.cvtColor(cv2.imread(str(augraphy_page), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        data = field.finish(page, rng)
        ran = json.loads(augraphy_page.with_suffix(".json").read_text())["augmentations"]
    else:
        data = field.apply(name, back, rng)
    t = time.perf_counter()
    row = {"class": name, "case": i, "darker": None, "lighter": None, "unchecked": None, "extra": {}, "stages": {},
           "augmentations": ran}
    try:
        result = restore(data, WORLD["ring"])
    except errors.VerifyError as exc:
        row["code"] = exc.code
        regions = exc.context.get("regions") if isinstance(exc.context, dict) else None
        if exc.code in ("altered", "content_unconfirmed") and regions:
            row["darker"] = max(r.get("darker", 0.0) for r in regions)
            row["lighter"] = max(r.get("lighter", 0.0) for r in regions)
            row["named"] = sorted(r.get("name", "?") for r in regions)
        for key in ("unchecked", "not_checked", "marks"):
            if isinstance(exc.context, dict) and exc.context.get(key):
                row["unchecked"] = exc.context[key]
    else:
        row["code"] = "verified"
        bound = result.content or {}
        row["darker"], row["lighter"] = bound.get("darker"), bound.get("lighter")
        row["unchecked"] = bound.get("unchecked") or bound.get("not_checked")
        row["checked"] = bound.get("checked")
        row["extra"] = {k: v for k, v in bound.items() if k not in KNOWN_CONTENT and k not in ("unchecked",
                                                                                             "not_checked")}
        row["stages"] = dict(result.timings_ms)
    row["ms"] = (time.perf_counter() - t) * 1000
    if row["code"] in ACCUSING or (WORLD["keep_all"] and row["code"] != "verified"):
        (WORLD["keep"] / f"{name}-{i}-{row['code']}.jpg").write_bytes(data)
        if augraphy_page is not None:  # and Augraphy's page before the office scan
            shutil.copy(augraphy_page, WORLD["keep"] / f"{name}-{i}-{row['code']}.page.png")
    return row


def _names(unchecked) -> list[str]:
    """Region names from whatever shape the answer gives the regions it did not check."""
    if not unchecked:
        return []
    if isinstance(unchecked, dict):
        return sorted(map(str, unchecked))
    if isinstance(unchecked, (list, tuple)):
        return sorted(str(u.get("name", u)) if isinstance(u, dict) else str(u) for u in unchecked)
    return [str(unchecked)]


def _augmentations_report(rows: list[dict]) -> None:
    """Per Augraphy augmentation: the pages it ran on, how many were verified, and how many accused."""
    if not rows:
        return
    seen = collections.defaultdict(collections.Counter)
    for r in rows:
        for name in set(r["augmentations"]):
            seen[name].update(pages=1, verified=int(r["code"] == "verified"), accused=int(r["code"] in ACCUSING))
    print("\nAugraphy's augmentations: pages each ran on, of them verified (accused where any)")
    line = []
    for name, c in sorted(seen.items(), key=lambda kv: (kv[1]["verified"] / kv[1]["pages"], kv[0])):
        line.append(f"{name} {c['verified']}/{c['pages']}" + (f" ({c['accused']} accused)" if c["accused"] else ""))
    for k in range(0, len(line), 6):
        print("  " + ", ".join(line[k:k + 6]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="*", default=CLASSES, choices=CLASSES, metavar="CLASS",
                        help=f"default: all of {' '.join(CLASSES)}")
    parser.add_argument("--cases", type=int, default=8, help="genuine backs per class (default 8)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None, help="conditions' seed (default: a new one each run)")
    parser.add_argument("--key-seed", type=int, default=None, metavar="N",
                        help="issue under a key made from N, the same every run (default: a new random key)")
    parser.add_argument("--verbose", action="store_true", help="list the fields not checked in every case")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the key ring and the scans that were not verified to DIR")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    _world(seed, args.key_seed)
    # an accused genuine back is the finding that matters most: its scan and the run's key ring are always kept
    keep = args.keep or Path(tempfile.mkdtemp(prefix="field-accused-"))
    keep.mkdir(parents=True, exist_ok=True)
    WORLD["ring"].save(keep / "keys", WORLD["ring"].default_signing_key())
    WORLD.update(keep=keep, keep_all=args.keep is not None)
    key = "a new random key" if args.key_seed is None else f"the key of --key-seed {args.key_seed}"
    print(f"seed {seed}; a genuine format v{spec.FORMAT_VERSION} back under {key}; {args.cases} cases per class; thresholds: "
          f"darker {content.ACCUSE} to accuse, {content.DARKER} to confirm; lighter {content.LIGHTER} levels; the "
          f"sample front's text drawn in {face_in_use()}\n")
    with tempfile.TemporaryDirectory(prefix="field-") as tmp:
        pages = augraphy_pages(args.classes, args.cases, args.jobs, seed, Path(tmp))
        jobs = [(n, i, pages.get((n, i))) for n in args.classes for i in range(args.cases)]
        t = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            rows = pool.map(_case, jobs, chunksize=1)
        wall = time.perf_counter() - t
    print("verified: the answer trusts the paper; rescan: refused without accusing (the code says why);")
    print("accused: altered, scramble_mismatch, bad_signature or unknown_key. accuse / confirm: the largest genuine")
    print("darker cell difference as a share of the accusation and the confirmation threshold; lighter: as a share of")
    print("its threshold (over all cases of the class, verified or not); unchecked:")
    print("cases whose answer names regions it could not check; checked: bound regions the verified cases checked, on")
    print("average (a verification that checked none rests on the signature and the signed text alone);")
    print("ms: mean verification time of the verified cases,")
    print("content: the content check's share of it, new: stages today's pipeline does not have (mean ms)\n")
    print(f"{'class':<17} {'verified':>8} {'rescan':>6} {'accused':>7} {'accuse':>7} {'confirm':>7} {'lighter':>7}"
          f" {'unchecked':>9} {'checked':>7}"
          f" {'ms':>6} {'content':>7} {'new':>6}  outcomes other than verified")
    totals = collections.Counter()
    for name in args.classes:
        mine = [r for r in rows if r["class"] == name]
        codes = collections.Counter(r["code"] for r in mine)
        ok = codes["verified"]
        accused = sum(v for k, v in codes.items() if k in ACCUSING)
        rescan = len(mine) - ok - accused
        darker = max((r["darker"] for r in mine if r["darker"] is not None), default=None)
        lighter = max((r["lighter"] / content.LIGHTER for r in mine if r["lighter"] is not None), default=None)
        unchecked = sum(bool(r["unchecked"]) for r in mine)
        verified_rows = [r for r in mine if r["code"] == "verified"]
        counts = [r["checked"] for r in verified_rows if r.get("checked") is not None]
        checked = f"{statistics.fmean(counts):>7.1f}" if counts else f"{'-':>7}"
        ms = statistics.fmean(r["ms"] for r in verified_rows) if verified_rows else 0.0
        share = statistics.fmean(r["stages"].get("content", 0.0) / r["ms"] for r in verified_rows if r["ms"]) \
            if verified_rows else 0.0
        new = statistics.fmean(sum(v for k, v in r["stages"].items() if k not in STAGES_TODAY)
                               for r in verified_rows) if verified_rows else 0.0
        others = ", ".join(f"{k} {v}" for k, v in codes.most_common() if k != "verified")
        totals.update(cases=len(mine), verified=ok, rescan=rescan, accused=accused)
        fmt = (lambda v: f"{v:>7.0%}" if v is not None else f"{'-':>7}")  # noqa: E731
        accuse, confirm = (None, None) if darker is None else (darker / content.ACCUSE, darker / content.DARKER)
        print(f"{name:<17} {ok:>4}/{len(mine):<3} {rescan:>6} {accused:>7} {fmt(accuse)} {fmt(confirm)} {fmt(lighter)} "
              f"{unchecked:>9} {checked} {ms:>6.0f} {share:>7.0%} {new:>6.0f}  {others}", flush=True)
        for r in mine:
            named = _names(r["unchecked"])
            if named and args.verbose:
                print(f"{'':<19}case {r['case']}: {r['code']}, not checked: {', '.join(named)}")
            if r.get("named"):
                print(f"{'':<19}case {r['case']}: {r['code']} names {', '.join(r['named'])}")
            if r["augmentations"] is not None and r["code"] != "verified":
                print(f"{'':<19}case {r['case']}: {r['code']} after {' '.join(r['augmentations']) or 'nothing'}")
            if r["extra"]:
                print(f"{'':<19}case {r['case']}: also reported {r['extra']}")
    _augmentations_report([r for r in rows if r["augmentations"] is not None])
    print(f"\nall classes: {totals['verified']}/{totals['cases']} verified, {totals['rescan']} asked to rescan, "
          f"{totals['accused']} accused; {wall:.0f} s for the verifications on {args.jobs} jobs")
    if totals["accused"] or args.keep:
        print(f"kept in {keep}: the key ring (keys/) and the scans named CLASS-CASE-CODE.jpg; replay one with "
              f"python -m verify restore --keys {keep / 'keys'} SCAN")
    else:
        shutil.rmtree(keep)


if __name__ == "__main__":
    main()
