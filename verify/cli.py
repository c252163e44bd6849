"""``python -m verify`` (or ``certverify``): manage the key ring, issue certificates, restore scans.

Exit codes, one per family of outcome, so that a script can branch without reading the JSON:

  0  verified (restore), or done (keys, issue)
  1  an unexpected failure (a bug: please report it with the traceback)
  2  the command line is wrong (usage)
  3  input: the file cannot be read or is no acceptable scan (empty, unsupported, corrupt, too large, an
     unreadable date or regions file)
  4  locating: no back found on the page (markers, dot track, resolution)
  5  code or signature: the code or data strip unreadable, an unknown key, a bad signature
  6  altered or mismatch: the scrambled image does not belong to the code, or the front was altered
  7  scan again: this scan cannot support a verdict (folded, faded, a 1-bit scan); not an accusation
  8  configuration: no key ring, an invalid key file, a key that cannot sign, issuing without the `issue` extra

The JSON's ``error.code`` says which member of a family it was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .compare import compare_front
from .errors import (
    Altered,
    CodeError,
    ConfigurationError,
    ContentUnconfirmed,
    ContentUnverifiable,
    InputError,
    LocateError,
    ScanUnrestorable,
    ScrambleMismatch,
    VerifyError,
)
from .issuing import SAMPLE_ISSUER, duplex_pdf, fronts_from_pdf, issue, new_serial
from .keys import KeyRing, init_ring
from .model import Limits, Restoration
from .output import encode_image
from .paper import on_paper
from .restore import restore
from .sample import default_fields


class Exit(enum.IntEnum):
    """The CLI's exit codes (the module's docstring says what each means)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INPUT = 3
    LOCATE = 4
    CODE = 5
    REFUSED = 6
    RESCAN = 7
    CONFIGURATION = 8


# error family -> exit code; every concrete error class belongs to exactly one (tests/pipeline/test_cli.py)
FAMILIES: tuple[tuple[tuple[type[VerifyError], ...], Exit], ...] = (
    ((InputError,), Exit.INPUT),
    ((LocateError,), Exit.LOCATE),
    ((CodeError,), Exit.CODE),
    ((ScrambleMismatch, Altered), Exit.REFUSED),
    ((ScanUnrestorable, ContentUnverifiable, ContentUnconfirmed), Exit.RESCAN),
    ((ConfigurationError,), Exit.CONFIGURATION),
)


def exit_code(error: type[VerifyError] | VerifyError) -> Exit:
    """The exit code of an error's family; ``INTERNAL`` for an error in none (which a test forbids)."""
    cls = error if isinstance(error, type) else type(error)
    return next((code for classes, code in FAMILIES if issubclass(cls, classes)), Exit.INTERNAL)


def _keys_init(args: argparse.Namespace) -> int:
    path = Path(args.dir) if args.dir else KeyRing.default_path()
    try:
        issuers = {SAMPLE_ISSUER: default_fields().municipality}
        if args.issuer:
            issuers = dict(item.split("=", 1) for item in args.issuer if "=" in item)
            if len(issuers) != len(args.issuer):
                raise ValueError("give each --issuer as CODE=NAME")
        ring, key = init_ring(path, args.key_id, issuers)
    except ValueError as exc:
        print(f"cannot create the key: {exc}", file=sys.stderr)
        return Exit.INPUT
    if key is None:
        print(f"key ring {path} already holds {', '.join(ring.ids())}; nothing created")
    else:
        print(f"created key {key.key_id} in {path} (owner-only permissions)")
    return Exit.OK


def _keys_list(args: argparse.Namespace) -> int:
    ring = KeyRing.load(args.dir or None)
    for key_id in ring.ids():
        key = ring.get(key_id)
        role = "sign+verify" if key.signing_key else "verify"
        print(f"{key_id}\t{role}\t{key.created}")
    return Exit.OK


def _issue(args: argparse.Namespace) -> int:
    ring = KeyRing.load(args.keys or None)
    fronts: list[np.ndarray | None] = [None]
    if args.front:
        try:
            if _is_pdf(Path(args.front)):  # a bad PDF raises its upload error: one JSON line from ``main``
                fronts = list(fronts_from_pdf(Path(args.front).read_bytes()))
            else:
                bgr = cv2.imread(args.front, cv2.IMREAD_COLOR)
                if bgr is None:
                    raise OSError("not an image OpenCV can read")
                fronts = [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)]
        except OSError as exc:
            print(f"cannot read front image {args.front}: {exc}", file=sys.stderr)
            return Exit.INPUT
    try:
        issued_on = dt.date.fromisoformat(args.issued_on) if args.issued_on else None
    except ValueError:
        print(f"cannot read the issue date {args.issued_on!r}: give it as YYYY-MM-DD", file=sys.stderr)
        return Exit.INPUT
    pages: dict[int, tuple[dict[str, tuple[int, int, int, int]], dict[str, str]]] = {}
    if args.regions:
        try:
            pages = _read_regions(Path(args.regions), len(fronts))
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            print(f"cannot read regions {args.regions}: {exc}", file=sys.stderr)
            return Exit.INPUT
    serial = args.serial or new_serial(issued_on or dt.date.today())  # the pages are the sheets of one certificate
    sheets = []
    for number, front in enumerate(fronts, start=1):
        regions, texts = pages.get(number, (None, None))
        try:
            cert = issue(ring, front=front, serial=serial, issuer=args.issuer, key_id=args.key_id,
                         document_type=args.document_type, issued_on=issued_on, regions=regions, texts=texts,
                         sheet=(number, len(fronts)))
        except ValueError as exc:
            where = f" sheet {number}" if len(fronts) > 1 else ""
            print(f"cannot issue{where}: {exc}", file=sys.stderr)
            return Exit.INPUT
        sheets.append(cert if args.no_ground else on_paper(cert))  # front.png and the PDF as a kiosk prints them
    out = Path(args.out)
    if len(sheets) == 1:
        paths = sheets[0].save(out)
        report: dict[str, Any] = {"certificate": sheets[0].facts.to_dict(),
                                  "files": {k: str(v) for k, v in paths.items()}}
    else:  # one back per sheet, and the certificate's sheets in one PDF, each front followed by its back
        report = {"certificate": sheets[0].facts.to_dict(), "sheets": [],
                  "files": {"pdf": str(out / "certificate.pdf")}}
        for number, sheet in enumerate(sheets, start=1):
            paths = sheet.save(out / f"sheet-{number}", pdf=False)
            report["sheets"].append({"sheet": number, "certificate": sheet.facts.to_dict(),
                                     "files": {k: str(v) for k, v in paths.items()}})
        (out / "certificate.pdf").write_bytes(duplex_pdf(sheets))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return Exit.OK


def _is_pdf(path: Path) -> bool:
    """Whether the front is to be read as a PDF: by its name, or by its content whatever its name."""
    if path.suffix.lower() == ".pdf":
        return True
    with path.open("rb") as file:
        return b"%PDF-" in file.read(1024)


Regions = tuple[dict[str, tuple[int, int, int, int]], dict[str, str]]


def _read_regions(path: Path, page_count: int = 1) -> dict[int, Regions]:
    """The regions file, as boxes and texts per page number (from 1). The flat form, for a front of one page, maps
    each name to its box [x0, y0, x1, y1] or to {"box": [...], "text": "..."}; the per-page form maps page numbers
    ("1", "2", ...) to objects of the flat form. A page it does not name is bound whole, coarsely."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the regions file is not a JSON object")
    per_page = bool(data) and all(
        str(key).isdigit() and isinstance(value, dict) and "box" not in value for key, value in data.items())
    if not per_page:
        if page_count > 1:
            raise ValueError(f"the front has {page_count} pages: key the regions by page number, "
                             '{"1": {"name": [x0, y0, x1, y1], ...}, "2": {...}}')
        return {1: _page_regions(data)}
    pages = {}
    for key, value in data.items():
        number = int(key)
        if not 1 <= number <= page_count:
            raise ValueError(f"regions for page {key}, but the front has {page_count} page(s)")
        pages[number] = _page_regions(value)
    return pages


def _page_regions(data: dict[str, Any]) -> Regions:
    """One page's regions in the flat form: each name maps to its box [x0, y0, x1, y1], or to {"box": [...],
    "text": "..."} to carry the field's text too."""
    regions: dict[str, tuple[int, int, int, int]] = {}
    texts: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            if not isinstance(value.get("text", ""), str):
                raise ValueError(f"the text of {name!r} is not a string")
            if value.get("text"):
                texts[str(name)] = value["text"]
            value = value["box"]
        box = tuple(int(v) for v in value)
        if len(box) != 4:
            raise ValueError("each region is [x0, y0, x1, y1] or {\"box\": [x0, y0, x1, y1], \"text\": \"...\"}")
        regions[str(name)] = box
    return regions, texts


def _restore(args: argparse.Namespace) -> int:
    try:
        data = Path(args.scan).read_bytes()
        result = restore(data, KeyRing.load(args.keys or None), Limits())
    except VerifyError as exc:
        print(json.dumps({"ok": False, "error": exc.to_dict(args.lang)}, ensure_ascii=False))
        return exit_code(exc)
    except OSError as exc:
        print(json.dumps({"ok": False, "error": {"code": "io_error", "message": str(exc)}}, ensure_ascii=False))
        return Exit.INPUT
    out = Path(args.out) if args.out else Path(args.scan).with_name(Path(args.scan).stem + ".restored.png")
    fmt = out.suffix.lstrip(".").lower().replace("jpg", "jpeg") or "png"
    out.write_bytes(encode_image(result.image, fmt))
    answer = {"ok": True, **result.certificate.to_dict(), "quality": result.quality, "content": result.content,
              "restored": str(out)}
    if args.front:
        answer["front_comparison"] = _compare_front(result, args, out, fmt)
    print(json.dumps(answer, ensure_ascii=False))
    return Exit.OK


def _compare_front(result: Restoration, args: argparse.Namespace, out: Path, fmt: str) -> dict[str, Any]:
    """The ``front_comparison`` object: with ``--out``, the overlay written beside the restored front as
    NAME.front-overlay.EXT (named in ``overlay``); a front that cannot be read is ``unreadable`` with its error."""
    try:
        comparison = compare_front(result, Path(args.front).read_bytes(), Limits())
    except VerifyError as exc:
        return {"outcome": "unreadable", "reason": exc.code, "error": exc.to_dict(args.lang)}
    except OSError as exc:
        return {"outcome": "unreadable", "reason": "io_error", "error": {"code": "io_error", "message": str(exc)}}
    answer = comparison.to_dict(image=False)
    if args.out and comparison.overlay is not None:
        overlay = out.with_name(out.stem + ".front-overlay" + out.suffix)
        overlay.write_bytes(encode_image(comparison.overlay, fmt))
        answer["overlay"] = str(overlay)
    return answer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="manage the key ring").add_subparsers(dest="keys_command", required=True)
    k_init = keys.add_parser("init", help="create a development key ring if none exists")
    k_init.add_argument("--dir", help="key ring directory (default $CERTVERIFY_KEYS_DIR or keys/)")
    k_init.add_argument("--key-id", help="create this key id (also when the ring already has keys)")
    k_init.add_argument("--issuer", action="append", metavar="CODE=NAME",
                        help="an issuer the key signs for and its display name (repeatable; default: the sample's "
                             f"{SAMPLE_ISSUER} and its municipality)")
    k_init.set_defaults(func=_keys_init)
    k_list = keys.add_parser("list", help="list key ids")
    k_list.add_argument("--dir")
    k_list.set_defaults(func=_keys_list)

    iss = sub.add_parser("issue", help="make a certificate: front.png, back.png and certificate.pdf")
    iss.add_argument("--out", required=True, help="output directory")
    iss.add_argument("--front", help="front page: an image, or a PDF drawn at 300 dpi (as uploads are read, under "
                     "the same limits) whose pages are the sheets of one certificate: each sheet's front and back "
                     "written to OUT/sheet-N/, and OUT/certificate.pdf with every sheet's front followed by its back "
                     "(a one-page PDF is written as an image is, to OUT/) (default: a rendered sample 住民票の写し)")
    iss.add_argument("--serial", help="certificate serial (default: date and random digits), shared by its sheets")
    iss.add_argument("--issuer", default=SAMPLE_ISSUER, help=f"issuer code (default {SAMPLE_ISSUER}, fictitious)")
    iss.add_argument("--key-id", help="issuing key id (default: the newest signing key)")
    iss.add_argument("--document-type", default="residence", help="residence or seal-registration")
    iss.add_argument("--issued-on", help="issue date YYYY-MM-DD (default today)")
    iss.add_argument("--regions", help="JSON object naming the boxes of the front whose content the signature binds: "
                     '{"name": [x0, y0, x1, y1], ...} in the front\'s pixels, or {"name": {"box": [x0, y0, x1, y1], '
                     '"text": "what the field says"}, ...} to carry each field\'s text (default: the sample\'s '
                     "personal fields and their text, or the whole front coarsely). For a front of several pages, key "
                     'them by page number: {"1": {"name": [x0, y0, x1, y1], ...}, "2": {...}}, in the pixels of '
                     "each page at 300 dpi; a page not named is bound whole, coarsely")
    iss.add_argument("--no-ground", action="store_true",
                     help="print front.png without the background security pattern (地紋) a kiosk prints it on")
    iss.add_argument("--keys", help="key ring directory")
    iss.set_defaults(func=_issue)

    res = sub.add_parser("restore", help="verify a scan of a back and write the restored front")
    res.add_argument("scan")
    res.add_argument("--out", help="restored front image (.png, .jpg or .webp); with --front, the comparison's "
                     "overlay is written beside it as NAME.front-overlay.EXT")
    res.add_argument("--front", help="a scan of the paper front (any format a back may have): compare it with the "
                     "restored front and add front_comparison to the answer")
    res.add_argument("--keys", help="key ring directory")
    res.add_argument("--lang", default="en", choices=["en", "ja"], help="language of error messages")
    res.set_defaults(func=_restore)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except VerifyError as exc:
        print(json.dumps({"ok": False, "error": exc.to_dict(getattr(args, "lang", "en"))}, ensure_ascii=False))
        return exit_code(exc)
