"""Verification: the bytes of a scan in, the restored front and the certificate's facts out."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import cv2
import numpy as np

from . import content, marks, spec, strip
from .code import CodePayload, check_code
from .derive import BlockMap, strip_key
from .errors import (
    Altered,
    BadSignature,
    CodeUnreadable,
    ContentUnconfirmed,
    ContentUnverifiable,
    GridNotFound,
    LocateError,
    MarkersNotFound,
    ResolutionTooLow,
    ScanUnrestorable,
    ScrambleMismatch,
    StripUnreadable,
    UnknownKey,
    VerifyError,
)
from .intake import is_bilevel, iter_pages, open_upload
from .keys import KeyRing
from .locate import (
    SEARCH_SECONDS,
    GridFit,
    PageFit,
    locate_markers,
    measure_dots,
    read_code,
    sample_blocks,
    screen_page,
    search_budget,
    search_budget_spent,
    strip_levels,
)
from .model import DecodedPage, Limits, Restoration, Upload
from .quality import COARSE, seam_coherence, strokes_moved
from .scramble import place_blocks
from .sheets import Sheets

WORKING_MAX_PIXELS = 24_000_000  # larger scans are decoded at half size (a 600 dpi A4 page becomes 300 dpi;
# a 16 or 20 MP phone photo keeps its full resolution)
UNIFORM_LIGHT_LEVELS = 10  # paper white varying less than this across the page gets one tone curve
MAX_COHERENCE = 0.88  # above this the blocks fit their neighbours too poorly to restore the front
SPLICED = 0.95  # and above this, also with the front reduced COARSE times, no better than blocks put at random (0.97
# to 1.04 measured at full size, 0.98 reduced): the wrong block map. A print whose strokes moved a few pixels
# (Augraphy's InkShifter) reaches 0.92 to 0.97 at full size, 0.6 reduced
# The restored front's paper is brought to white: levels within the scan's own spread of blank paper (noise, grain,
# the faint unevenness that differs block by block) become white. Paper white is taken at the top of that spread
# (the brightest pixel within a cell), typical paper lies about two standard deviations below it and spreads about
# two more: NOISE_WIDTH standard deviations in all, at most PAPER_MARGIN levels. A clean scan keeps every level.
NOISE_WIDTH = 4.0
PAPER_MARGIN = 12
# A stack's pages without a back may spend this long in the marker search together (each page at most
# SEARCH_SECONDS); past it the remaining pages are left unchecked. A back found is not counted: 20 backs take far
# less, and a stack of hostile pages is bounded at three pages' searches.
STACK_SEARCH_SECONDS = 3 * SEARCH_SECONDS
SKIPPED_REASONS = ("blank", "no_back", "not_paper")  # a page that is no back: empty, the front or another
# document, a photograph of something else (``MarkersNotFound.context["reason"]``)


class _Clock:
    """Milliseconds spent per stage."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + (now - self._t) * 1000
        self._t = now


def restore(data: bytes, keyring: KeyRing, limits: Limits | None = None) -> Restoration:
    """Verify one upload: decode it, find the back on the first page that carries one, check its code and restore
    the front. Raises a ``VerifyError`` that says what to do when it cannot."""
    limits = limits or Limits()
    clock = _Clock()
    try:
        return _restore(data, keyring, limits, clock)
    except VerifyError as exc:
        _timed(exc, clock)
        raise


def _restore(data: bytes, keyring: KeyRing, limits: Limits, clock: _Clock) -> Restoration:
    """``restore``, timed by ``clock``."""
    upload = open_upload(data, limits)
    with _noted(format=upload.format, width=upload.width, height=upload.height):  # never personal
        first_error: VerifyError | None = None
        with search_budget():  # one time budget for the marker search of every page together
            for page in iter_pages(data, upload, limits, max_pixels=WORKING_MAX_PIXELS):
                clock.lap("decode")
                try:
                    screen(page, limits)
                    result = restore_page(page, keyring, limits, clock)
                except LocateError as exc:  # this page carries no readable back: try the next one
                    first_error = first_error or exc
                    if search_budget_spent():
                        break
                    continue
                result.upload = upload
                return result
        raise first_error or MarkersNotFound("the upload has no page")


@dataclasses.dataclass
class PageResult:
    """One page of an upload: its number as the upload counts them (from 1) and its restoration or its error."""

    page: int
    upload: Upload
    restoration: Restoration | None = None
    error: VerifyError | None = None
    # a page that shows no back and is not blank (the front of a duplex scan, say): its picture as decoded (RGB, or
    # gray), for ``verify.compare.compare_picture`` with the back beside it; the caller drops it when done
    picture: np.ndarray | None = None

    @property
    def skipped(self) -> str | None:
        """Why the page carries no back (one of ``SKIPPED_REASONS``: ``blank``, ``no_back`` for the front or
        another document, ``not_paper``), or None for a back (verified or refused) or a page that could not be
        read as one."""
        if isinstance(self.error, MarkersNotFound) and self.error.context.get("reason") in SKIPPED_REASONS:
            return str(self.error.context["reason"])
        return None


def restore_pages(data: bytes, keyring: KeyRing, limits: Limits | None = None) -> Iterator[PageResult]:
    """Verify every page of an upload (a stack scanned to one PDF or TIFF), yielding one ``PageResult`` per page in
    order, each page as ``restore`` verifies one: a back's restoration or refusal, or the page named as no back
    (``PageResult.skipped``). Pages are decoded and restored one at a time, so a caller that keeps only what it
    needs of each holds one page in memory.

    Each page gets its own marker search budget (``SEARCH_SECONDS``), so a page's verdict never depends on the pages
    before it; pages without a back may spend ``STACK_SEARCH_SECONDS`` together, after which the iteration ends
    before the upload's last page (the caller compares with ``upload.page_count``); so does a page that cannot be
    read once an earlier page was answered (its result carries the error: ``PdfTooComplex``, ``CorruptFile``, ...),
    so that the pages answered are kept. A back that names the serial of an earlier verified back but disagrees
    with it (``verify.sheets``) is refused, ``SheetsDisagree``. An upload that cannot be read at all, or has more
    than ``limits.max_pages`` pages, raises its ``VerifyError`` as ``restore`` does."""
    limits = limits or Limits()
    upload = open_upload(data, limits)
    with _noted(format=upload.format, width=upload.width, height=upload.height):  # an upload-wide refusal
        pages = iter_pages(data, upload, limits, max_pixels=WORKING_MAX_PIXELS)
        spent = 0.0  # seconds pages without a back spent
        sheets = Sheets()  # the sheets verified so far, by serial: a later sheet must agree with its serial's first
        answered = 0  # pages yielded
        while spent < STACK_SEARCH_SECONDS:
            clock = _Clock()
            try:
                page = next(pages, None)
            except VerifyError as exc:  # a page that cannot be read (too complex to draw, damaged): the reading ends
                if not answered:
                    raise  # nothing answered yet: the upload is refused as a whole
                for key, value in (("format", upload.format), ("width", upload.width), ("height", upload.height)):
                    exc.context.setdefault(key, value)
                yield PageResult(page=answered + 1, upload=upload, error=_timed(cast(VerifyError, _detached(exc)),
                                                                                  clock))
                return  # the pages after it are left unchecked, the answered ones kept
            if page is None:
                if upload.page_count < 1:
                    raise MarkersNotFound("the upload has no page")
                return
            clock.lap("decode")
            started = time.monotonic()
            result = PageResult(page=page.page_index + 1, upload=upload)
            try:
                with _noted(format=upload.format, width=upload.width, height=upload.height), \
                        search_budget(min(SEARCH_SECONDS, STACK_SEARCH_SECONDS - spent)):
                    screen(page, limits)
                    restoration = restore_page(page, keyring, limits, clock)
                sheets.admit(result.page, restoration.certificate)
                result.restoration = restoration
                restoration.upload = upload
            except VerifyError as exc:
                if isinstance(exc, LocateError):
                    spent += time.monotonic() - started
                result.error = _timed(cast(VerifyError, _detached(exc)), clock)
                if result.skipped == "no_back":
                    result.picture = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image,
                                                                                            cv2.COLOR_BGR2RGB)
            del page
            answered += 1
            yield result


def _timed(exc: VerifyError, clock: _Clock) -> VerifyError:
    """``exc`` with the stages ``clock`` timed before it, and ``refused``: from the last of them to the refusal."""
    clock.lap("refused")
    exc.timings_ms = {k: round(v, 2) for k, v in clock.times.items()}
    return exc


def _detached(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and those of the errors it was raised from: a page's refusal is kept as its
    result, and a traceback keeps the frames of the search alive with the page's pixels (45 MB a page at 300 dpi,
    a stack's fronts each adding theirs until the upload was done)."""
    seen: BaseException | None = exc
    while seen is not None:
        seen.__traceback__ = None
        seen = seen.__cause__ or seen.__context__
    return exc


@contextlib.contextmanager
def _noted(**facts: Any) -> Iterator[None]:
    """Add ``facts`` about the upload to the context of any ``VerifyError`` raised inside (what it was, for the log
    and the reader), without overriding what the error says itself."""
    try:
        yield
    except VerifyError as exc:
        for key, value in facts.items():
            exc.context.setdefault(key, value)
        raise


def screen(page: DecodedPage, limits: Limits) -> None:
    """Refuse a page that cannot be a scan of the back before the costly search (``locate.screen_page``)."""
    img = page.image
    screen_page(img if img.ndim == 2 else img[..., 1], page.scale, limits.min_dpi)  # green: luma enough here


def restore_page(page: DecodedPage, keyring: KeyRing, limits: Limits, clock: _Clock | None = None) -> Restoration:
    """Verify one decoded page."""
    clock = clock or _Clock()
    img = page.image
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    fit = locate_markers(gray)
    if fit.mirrored:  # the rest reads the picture as the page lies, the right way round
        img, gray = np.ascontiguousarray(np.fliplr(img)), np.ascontiguousarray(np.fliplr(gray))
        page = dataclasses.replace(page, image=img)
    scan_dpi = fit.dpi / page.scale  # the page may have been decoded at reduced size
    if scan_dpi < limits.min_dpi:
        raise ResolutionTooLow(f"the back was scanned at about {scan_dpi:.0f} dpi", dpi=round(scan_dpi))
    clock.lap("locate")
    with _noted(dpi=round(scan_dpi)):
        return _restore_located(page, gray, fit, scan_dpi, keyring, clock)


def _restore_located(page: DecodedPage, gray: np.ndarray, fit: PageFit, scan_dpi: float, keyring: KeyRing,
                     clock: _Clock) -> Restoration:
    """The rest of ``restore_page`` once the back is found at ``fit``: the code, the grid, the front, the checks."""
    img = page.image
    code, repaired = read_code(gray, fit)
    try:
        payload = check_code(code, keyring)
    except (BadSignature, UnknownKey) as exc:
        if repaired:  # error correction may have decoded a repaired symbol to wrong bytes: no evidence on the paper
            raise CodeUnreadable(f"the code read only once repaired, and what it read does not check ({exc.code})"
                                 ) from None
        raise
    clock.lap("code")
    bilevel = is_bilevel(img)
    if payload.version >= 2 and bilevel:  # strokes drop out of 1-bit scans: content cannot be compared
        raise ContentUnverifiable("a 1-bit scan of a content-bound back", serial=payload.serial,
                                  issuer=payload.issuer, key_id=payload.key_id, signature="valid")
    secret = keyring.get(payload.key_id).scramble_secret
    block_map = BlockMap.derive(secret, payload.issuer, payload.serial, payload.sheet_of)
    source = cv2.GaussianBlur(gray, (0, 0), 0.8) if bilevel else gray  # 1-bit: recover grey levels first
    first: VerifyError | None = None
    for attempt in _fits(fit):
        try:
            grid = measure_dots(gray, attempt, img if img.ndim == 3 else None)
            clock.lap("refine")
            fingerprint = _read_fingerprint(gray, grid, payload, secret) if payload.version >= 2 else None
            clock.lap("content")
            luma, colour, marked = resample_front(source, img if img.ndim == 3 else None, attempt, grid, block_map)
            excluded = marks.front_mask(marked, block_map)
            coherence = seam_coherence(luma, excluded)
            if (better := _better_reading(source, attempt, grid, block_map, coherence, excluded)) is not None:
                grid, coherence = better
                luma, colour, marked = resample_front(source, img if img.ndim == 3 else None, attempt, grid,
                                                      block_map)
            clock.lap("warp")
            jumps = _creases(grid, bilevel)
            folded = any(len(k) for k in jumps.values())
            creased = marks.creases(jumps)
            if coherence > MAX_COHERENCE:
                # blocks that do not fit are evidence against the paper only where the sheet lay flat and they fit
                # no better than blocks put at random, at full size and reduced: a fold, a print that moved its
                # strokes a few pixels, or a print or scan degraded enough does the rest
                at_random = coherence > SPLICED and seam_coherence(luma, excluded, COARSE) > SPLICED
                spotted = not folded and at_random and _paper_level(gray, grid) >= content.SPOT_LEVEL
                # and only on a page three or four marks placed: the dot track alone may be read a dot off
                error = (ScrambleMismatch if at_random and not (folded or spotted or attempt.by_track)
                         else ScanUnrestorable)
                doubts = {"folded": folded, "spotted": spotted}
                raise error(f"the blocks do not fit together (coherence {coherence:.2f})", serial=payload.serial,
                            coherence=round(coherence, 2), **{k: True for k, v in doubts.items() if v})
        except (GridNotFound, StripUnreadable, ScrambleMismatch, ScanUnrestorable) as exc:
            first = exc if first is None or isinstance(exc, ScanUnrestorable) else first
            continue
        fit = attempt
        break
    else:
        assert first is not None  # _fits yields at least one fit, and each that failed set it
        raise first
    luma = sharpen(luma, grid.blur_px / grid.px_per_unit)
    front = compose(cv2.LUT(luma, _to_white(paper_margin(gray, grid))), colour)
    clock.lap("finish")
    marked |= marks.pen_marks(luma, block_map, functools.partial(marks.follow_strokes, gray, grid), creased)
    marked |= marks.toned_marks(luma, block_map, creased)
    left_out = marks.front_masks({"marked": marked, "creased": creased}, block_map)
    covered = left_out["marked"] | left_out["creased"]  # front blocks that may not show the issuer's print
    bound: dict[str, Any] = {"bound": False}
    if fingerprint is not None:
        bound = check_content(fingerprint, luma, front, payload, left_out, folded=folded,
                              moved=functools.partial(strokes_moved, luma, excluded, coherence),
                              paper_level=functools.partial(_paper_level, gray, grid),
                              black_spread=functools.partial(content.black_spread, luma, block_map.perm, covered),
                              dot_spread=grid.ink_spread, printed=block_map.perm)
    if covered.any():
        bound["marks"] = marks.boxes(left_out)
    front = marks.shade(front, covered)
    clock.lap("content")
    return Restoration(
        image=front,
        certificate=dataclasses.replace(payload.facts(),
                                        issuer_name=keyring.get(payload.key_id).issuer_name(payload.issuer)),
        quality=_quality(fit, grid, scan_dpi, coherence),
        page_index=page.page_index,
        timings_ms={k: round(v, 2) for k, v in clock.times.items()},
        content=bound,
        regions={r.name: r.box(fingerprint.cell) for r in fingerprint.regions} if fingerprint is not None else {},
    )


def _fits(fit: PageFit) -> Iterator[PageFit]:
    """The markers' fit, then (only if the back does not restore through it) each fit to three of four markers: a
    marker that a staple or a thumb half covers can put every dot one place off, and the blocks out of place would
    read as a back that does not belong to its code."""
    yield fit
    yield from fit.alternatives()


def _better_reading(gray: np.ndarray, fit: PageFit, grid: GridFit, block_map: BlockMap, coherence: float,
                    excluded: np.ndarray) -> tuple[GridFit, float] | None:
    """Of the readings of ``grid``'s dot track that a fold made ambiguous (``GridFit.slipped_readings``; none on
    most scans), the one whose blocks fit their neighbours best, with its seam coherence, if it fits better than
    ``grid`` as measured (``coherence``, the seams beside the front's blocks ``excluded`` not counted); else None."""
    readings = grid.slipped_readings()
    scored = [(seam_coherence(resample_front(gray, None, fit, g, block_map)[0], excluded), i)
              for i, g in enumerate(readings)]
    best, i = min(scored, default=(coherence, -1))
    return (readings[i], best) if best < coherence else None


def _read_fingerprint(gray: np.ndarray, grid: GridFit, payload: CodePayload, secret: bytes) -> content.Fingerprint:
    """The content fingerprint from the data strip (formats v2 and v3), checked against the digest in the signed
    code and, in v3, decrypted with the certificate's strip key. Each reading gives the strip's decoder how
    certain every module is, for the codewords its parity repairs only with the least certain bytes erased."""

    def read(search: bool = False, gaps: bool = False) -> bytes:
        levels = strip_levels(gray, grid, search, gaps)
        return strip.decode(levels > 0, payload.content_digest, np.abs(levels))

    try:
        data = read()
    except (StripUnreadable, BadSignature):  # misread: read again, searching the registration
        try:
            data = read(search=True)
        except StripUnreadable:  # and once more with light gaps and streaks through its modules filled
            data = read(search=True, gaps=True)
    key = (strip_key(secret, payload.issuer, payload.serial, payload.issued_on, payload.sheet_of)
           if payload.version >= 3 else None)
    try:
        return content.unseal(data, payload.version, key)
    except ValueError as exc:  # signed by the issuer yet malformed: an issuing fault, not the scan's
        raise CodeUnreadable(f"the signed content fingerprint is malformed: {exc}") from exc


def check_content(fingerprint: content.Fingerprint, luma: np.ndarray, front: np.ndarray, payload: CodePayload,
                  left_out: dict[str, np.ndarray] | None = None, folded: bool = False,
                  moved: Callable[[], bool] = lambda: False,
                  paper_level: Callable[[int], float] = lambda cell: 0.0,
                  black_spread: Callable[[], float] = lambda: 0.0, dot_spread: float = 0.0,
                  printed: np.ndarray | None = None) -> dict[str, Any]:
    """Compare the restored front's luminance with the signed fingerprint, leaving out the blocks of ``left_out`` (by
    reason, see ``marks``), the ink gain fitted over the back where the block map's ``printed`` order is given
    (``content.compare``; wherever it can be fitted where the dots show uneven light, below). ``Altered`` when a
    region differs by more than a scan can make it, ``ContentUnconfirmed`` when one comes out darker than a good scan
    prints it but not by that much, or differs where a genuine scan can make it differ: on a ``folded`` sheet (whose
    panels may sit off their dots' fit inside the scrambled area), in a scan that lost the print's middle tones
    (``content.tones_lost``: red ink thresholded to black), under light that lifts black in places (glare: the dots'
    darkness spread by ``dot_spread`` from UNEVEN_DOTS, or ``black_spread`` from UNEVEN_BLACK), where much of the
    print's ink did not reach the scan (``content.faded_share`` from FADED_CELLS: toner run out, inks printed pale;
    or a column of the back printed paler than the page, ``content.streak_depth`` from STREAK_DEPTH: streaky toner),
    or in a print whose strokes ``moved`` a few pixels (``quality.strokes_moved``: a cell's ink moves into its
    neighbours). Each doubt is asked only when a region is refused and no earlier one holds. A refusal names the
    regions, with a coarse tamper map of the front (RGB) and never the front itself. On spotted paper
    (the darkest cell of the blank paper beside the scrambled area, ``paper_level`` at the fingerprint's cell size, at
    SPOT_LEVEL or more, and no region darker than ACCUSE by more than it; asked only when a region would be refused,
    and on a sheet neither folded nor thresholded, under uneven light and faded ink too) those regions are not checked,
    reason ``spotted``. Otherwise what was checked, the fields not checked and why, and,
    from format v3 on, the text the issuer signed for each field."""
    # light that lifts black in places (glare): the dots' darkness spread by ``dot_spread`` from UNEVEN_DOTS, or
    # the scrambled area's black by ``black_spread`` from UNEVEN_BLACK. Where the dots say so, the ink gain follows
    # the light over the back; the area's black alone does not: pale inks spread it too (52 to 78 levels, the dots
    # 3 to 5), and a gain surface bent to their faint cells makes fields darker than one gain does
    lit_unevenly = dot_spread >= content.UNEVEN_DOTS
    uneven = lit_unevenly or black_spread() >= content.UNEVEN_BLACK
    checks = content.compare(fingerprint, luma, left_out, printed, lit_unevenly)
    flagged = [c for c in checks if c.refused]
    if flagged:
        differs = any(c.outcome == "differs" for c in flagged)
        # what a genuine scan can do too: a fold, tones lost to a black-and-white threshold, glare, faded ink,
        # strokes moved in print, specks all over the paper (each asked only while no earlier one holds)
        doubts = {"folded": folded}
        doubts["tones_lost"] = not any(doubts.values()) and content.tones_lost(luma)
        doubts["uneven_light"] = not any(doubts.values()) and uneven
        doubts["faded"] = not any(doubts.values()) and (
            content.faded_share(fingerprint, luma, left_out) >= content.FADED_CELLS
            or (printed is not None and content.streak_depth(fingerprint, luma, printed, left_out)
                >= content.STREAK_DEPTH))
        doubts["moved"] = not any(doubts.values()) and moved()  # a threshold's jagged edges break seams too
        # specks read as ink whatever the light or the ink did, so they are asked under uneven light and faded ink
        # too; not on a fold (its crease shades the margin) or a thresholded scan (a speck there turns black)
        level = 0.0 if doubts["folded"] or doubts["tones_lost"] else paper_level(fingerprint.cell)
        if level >= content.SPOT_LEVEL and max(c.darker for c in flagged) < content.ACCUSE + level:
            checks = [dataclasses.replace(c, spotted=True) if c.refused else c for c in checks]
        else:
            error = Altered if differs and not any(doubts.values()) else ContentUnconfirmed
            raise error(
                f"{len(flagged)} of {len(checks)} bound regions come out darker than signed",
                regions=[{"name": c.name, "box": list(c.box), "outcome": c.outcome, "darker": c.darker,
                          "lighter": c.lighter} for c in flagged],
                tamper_map=content.tamper_map(front, flagged),
                serial=payload.serial, issuer=payload.issuer, key_id=payload.key_id, signature="valid",
                **{k: True for k, v in doubts.items() if v},
            )
    outcomes = {c.name: c.outcome for c in checks}
    bound: dict[str, Any] = {
        "bound": True, "regions": len(checks), "cell_px": fingerprint.cell,
        "darker": max((c.darker for c in checks), default=0.0),
        "lighter": max((c.lighter for c in checks), default=0.0),
        "checked": sum(1 for o in outcomes.values() if o == "matches"),
        "unchecked": [{"name": c.name, "box": list(c.box), "reason": c.why_unchecked, "cells": c.cells,
                       "cells_left_out": c.left_out} for c in checks if c.outcome == "unchecked"],
    }
    if payload.version >= 3:
        bound["signed_text"] = fingerprint.signed_text()
    return bound


def resample_front(gray: np.ndarray, colour: np.ndarray | None, fit: PageFit, grid: GridFit, block_map: BlockMap
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The front's luminance at full resolution and, from a colour scan (BGR), its colour at half resolution (as
    YCrCb, of which ``compose`` takes the chroma), with paper white mapped to 255 and the dots' ink to 0, and the
    printed cells under a mark in coloured ink (``marks.coloured_marks``; none in a gray scan). Every
    front block is resampled from its printed cell, which warps and descrambles at once.

    Colour at half resolution is what a JPEG scan carries anyway (4:2:0 subsampling), so it is sampled at the
    nearest pixel; sharpening then works on luminance alone, without colour fringes."""
    affines = grid.block_affines(block_map)
    black, gain = paper_gain(fit, grid, affines)
    uniform = isinstance(gain, float)  # a flatbed scan: the gain goes into the tone curve, else after it per pixel
    # the casts: the checker does not narrow ``gain`` through ``uniform`` (a float when uniform, else an array)
    curve = cast(float, gain) if uniform else 1.0
    luma = cv2.LUT(place_blocks(sample_blocks(gray, affines, grid.interpolation), block_map), _levels(black, curve))
    if not uniform:
        full = cv2.resize(place_blocks(cast(np.ndarray, gain), block_map), luma.shape[::-1],
                          interpolation=cv2.INTER_NEAREST_EXACT)
        luma = cv2.multiply(luma, full, dtype=cv2.CV_8U)
    if colour is None:
        return luma, None, np.zeros(len(affines), bool)
    samples = sample_blocks(colour, affines, cv2.INTER_NEAREST, step=2)
    # each channel's paper brought to the gray paper's level, so that tinted paper comes out white, then toned
    # as the luminance is
    balance = [(grid.paper - black) / max(level - black, 32.0) for level in paper_colour(colour, grid)]
    toned = cv2.LUT(samples, np.stack([_levels(black, curve * b) for b in balance], -1)[None])
    if not uniform:
        toned = cv2.multiply(toned, cv2.merge([cast(np.ndarray, gain)] * 3), dtype=cv2.CV_8U)
    ycc = cv2.cvtColor(toned, cv2.COLOR_BGR2YCrCb)
    return luma, place_blocks(ycc, block_map), marks.coloured_marks(ycc, block_map)


def _levels(black: float, gain: float) -> np.ndarray:
    """A tone curve for ``cv2.LUT``: ``black`` to 0, then ``gain`` levels out per level in."""
    return np.clip((np.arange(256) - black) * gain, 0, 255).astype(np.uint8)


def paper_samples(image: np.ndarray, grid: GridFit, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The scan's blank paper halfway between the dots of the track, around the scrambled area: one sample per gap
    (198), float32, channels last."""
    d, p = spec.DOT_OFFSET, spec.PITCH
    across = grid.scan_points((np.arange(spec.COLS) + 0.5) * p, np.array([-d, spec.GRID_H + d])).reshape(-1, 2)
    down = grid.scan_points(np.array([-d, spec.GRID_W + d]), (np.arange(spec.ROWS) + 0.5) * p).reshape(-1, 2)
    pts = np.concatenate([across, down]).astype(np.float32)[:, None]
    samples = cv2.remap(image, pts[..., 0], pts[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)
    return samples[:, 0].astype(np.float32)


def paper_colour(colour: np.ndarray, grid: GridFit) -> np.ndarray:
    """Levels (B, G, R) of the blank paper around the scrambled area."""
    return np.median(paper_samples(colour, grid), axis=0)


def paper_margin(gray: np.ndarray, grid: GridFit) -> float:
    """How far below white the restored front's blank paper spreads, in output levels: NOISE_WIDTH times the spread
    of single pixels of blank paper around the scrambled area (median absolute deviation, as a standard deviation)
    at the tone scale that takes the dots' ink to 0 and the paper to 255, at most PAPER_MARGIN."""
    samples = paper_samples(gray, grid, cv2.INTER_NEAREST)
    sigma = 1.4826 * float(np.median(np.abs(samples - np.median(samples))))
    return min(PAPER_MARGIN, NOISE_WIDTH * sigma * 255 / max(grid.paper - grid.ink, 32.0))


def paper_bands(gray: np.ndarray, grid: GridFit) -> list[np.ndarray]:
    """The blank paper left and right of the dot track (40 to 150 units out, the scrambled area's height),
    resampled at the restored front's scale and toned as the front is: the dots' ink to 0 and paper white, the
    brightest pixel within about a block, to 255; then sharpened as the front is. What reads as ink here is on the
    paper, not in the certificate (``content.paper_level``)."""
    scale = spec.BLOCK / spec.PITCH  # front pixels per unit
    ys = np.arange(0, spec.GRID_H, 1 / scale)
    size = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (spec.BLOCK + 1, spec.BLOCK + 1))
    bands = []
    for x0, x1 in ((-150, -40), (spec.GRID_W + 40, spec.GRID_W + 150)):
        pts = grid.scan_points(np.arange(x0, x1, 1 / scale), ys).astype(np.float32)
        band = cv2.remap(gray, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        white = cv2.GaussianBlur(cv2.dilate(band, size).astype(np.float32), (0, 0), spec.BLOCK / 2)
        toned = (band.astype(np.float32) - grid.ink) / np.maximum(white - grid.ink, 32.0) * 255
        bands.append(sharpen(np.clip(toned, 0, 255).astype(np.uint8), grid.blur_px / grid.px_per_unit))
    return bands


def _paper_level(gray: np.ndarray, grid: GridFit, cell: int = content.CELL_SIZES[0]) -> float:
    """The darkest cell of the back's blank paper, in levels (``content.paper_level``)."""
    return content.paper_level(paper_bands(gray, grid), cell)


def _to_white(margin: float) -> np.ndarray:
    """A tone curve for ``cv2.LUT`` that takes ``255 - margin`` and above to white, stretching the rest."""
    return np.clip(np.arange(256) * 255 / (255 - margin), 0, 255).astype(np.uint8)


def paper_gain(fit: PageFit, grid: GridFit, affines: np.ndarray) -> tuple[float, float | np.ndarray]:
    """The level taken as black, and the gain that maps paper white to 255 from there: one figure where white
    hardly varies over the scrambled area, else one per pixel of the blocks at half resolution (in printed order,
    through ``affines``), undoing uneven light and grey paper.

    Paper white is estimated in the scan itself, on the reduced image the markers were found in: the brightest
    pixel within about one block, smoothed by a Gaussian of half a block (at half that image's size, where the
    smoothing costs a quarter: pyrDown's own smoothing of about one pixel counts towards it)."""
    small, factor = fit.preview, fit.preview_factor
    assert small is not None  # locate_markers sets the preview of every fit it returns
    pitch = max(3, round(spec.PITCH * grid.px_per_unit / factor))
    brightest = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (pitch | 1, pitch | 1)))
    white = cv2.GaussianBlur(cv2.pyrDown(brightest).astype(np.float32), (0, 0), math.sqrt(pitch**2 / 4 - 1) / 2)
    factor *= 2
    probe = grid.scan_points(np.linspace(0, spec.GRID_W, 9), np.linspace(0, spec.GRID_H, 12)).reshape(-1, 2)
    levels = cv2.remap(white, (probe[:, 0:1] / factor).astype(np.float32), (probe[:, 1:2] / factor).astype(np.float32),
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    black = max(0.0, min(grid.ink, float(levels.min()) - 64))
    low, high = np.percentile(levels, [2, 98])
    if high - low < UNIFORM_LIGHT_LEVELS:
        return black, 255.0 / max(float(np.median(levels)) - black, 32.0)
    local = sample_blocks(white, affines, cv2.INTER_LINEAR, step=2, divisor=factor)
    return black, 255.0 / np.maximum(local - black, 32.0)


def compose(luma: np.ndarray, colour: np.ndarray | None) -> np.ndarray:
    """The RGB front from full-resolution luminance and the chroma of half-resolution YCrCb (none: a grey scan)."""
    if colour is None:
        return cv2.cvtColor(luma, cv2.COLOR_GRAY2RGB)
    ycc = cv2.resize(colour, luma.shape[::-1], interpolation=cv2.INTER_NEAREST_EXACT)  # never across a block seam
    cv2.mixChannels([luma], [ycc], [0, 0])
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def _creases(grid: GridFit, bilevel: bool) -> dict[str, np.ndarray]:
    """Where the dot track jumps at a crease (``GridFit.creases``), none in a 1-bit scan, whose dots jitter too much
    to tell. Inside the scrambled area a folded sheet's panels may bulge or sit off the fit to their dots, so what
    does not match there is not evidence against the paper: an accusation needs a sheet that lay flat."""
    return {} if bilevel else grid.creases


def sharpen(front: np.ndarray, blur: float) -> np.ndarray:
    """Unsharp masking matched to the measured blur (sigma in front pixels), to give back crisp strokes."""
    amount = float(np.clip(1.2 * blur, 0.0, 1.5))
    if amount < 0.1:
        return front
    sigma = max(1.0, 1.5 * blur)
    kernel = cv2.getGaussianKernel(2 * round(2.5 * sigma) + 1, sigma)
    soft = cv2.sepFilter2D(front, -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(front, 1 + amount, soft, -amount, 0)


def _quality(fit: PageFit, grid: GridFit, dpi: float, coherence: float) -> dict[str, float]:
    """Figures a user or an auditor can read to judge the scan."""
    return {
        "dpi": round(dpi, 1),
        "rotation_deg": round(fit.rotation_deg, 2),
        "markers_found": len(fit.corners),
        "marker_error_px": round(fit.marker_error_px, 3),
        "dots_found": round(grid.dots_found, 4),
        "grid_rms_px": round(grid.rms_px, 3),
        "contrast": round(grid.paper - grid.ink, 1),
        "blur_px": round(grid.blur_px, 2),
        "coherence": round(coherence, 3),
    }


