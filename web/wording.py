"""What the pages say about a verification, in the reader's words: the certificate's facts, the scan's quality,
the regions of a verdict, what a refusal found in the scan, and the picture of the back for a scan it was not found in.

The API keeps the figures and machine codes; these tables and functions turn them into sentences for the result
page (``web.public``), the error pages (``web.handlers``) and the console (``web.console``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from verify import spec
from web.i18n import current_lang
from web.problems import message_for

# The document types a code carries, as a reader names them: the codes are ``verify.code.DOCUMENT_TYPES``'s.
DOCUMENT_TYPES = {
    "residence": _l("Certificate of residence (住民票の写し)"),
    "seal-registration": _l("Seal-registration certificate (印鑑登録証明書)"),
}
SIGNATURES = {"valid": _l("Valid: signed by the issuer's registered key")}
# Names of the regions a content-bound back binds (the issuer's field names), as a reader would say them.
FIELD_LABELS = {"address": _l("address"), "head_of_household": _l("head of household"), "name": _l("name"),
                "kana": _l("reading of the name"), "birth": _l("date of birth")}

# Why a bound field could not be compared with the signed fingerprint (``content.unchecked[].reason``).
UNCHECKED_REASONS = {"marked": _l("covered by a mark on the back (a stamp, a note, a pen)"),
                     "creased": _l("on a crease of the folded sheet"),
                     "faded": _l("printed fainter than signed (faded or streaky toner)"),
                     "spotted": _l("darker than signed on paper specked all over (grime or scattered toner)")}

# Why the paper front, or one of its fields, could not be compared with the restored front
# (``front_comparison.reason`` and ``regions[].reason``).
FRONT_REASONS = {"not_registered": _l("The picture could not be matched to the restored front: it may be the front of "
                                      "another certificate, or the sheet was not flat or not whole in the picture."),
                 "a_back": _l("The picture sent as the front is a certificate's back. Scan the other side of the "
                              "sheet, the one with the names and the address."),
                 "tones_lost": _l("The front was scanned in black and white only (a fax or a black-and-white mode), "
                                  "which loses thin strokes and grey print, so a changed character cannot be told from "
                                  "what the scan lost. Scan the front again in colour or in grayscale."),
                 "outside_scan": _l("part of the page was outside the picture"),
                 "creased": _l("a fold of the sheet runs across it"),
                 "marked": _l("a stamp or a note laid over it hides its print or adds ink: compare it with the signed "
                              "text"),
                 "not_restored": _l("a mark on the back hid this part of the restored front"),
                 "spotted": _l("the paper is specked all over (grime or scattered toner) and the specks fall on the "
                               "print: compare with the signed text"),
                 "faded": _l("the print came out too pale to compare (toner running out, or inks printed pale): "
                             "compare with the signed text"),
                 "sealed": _l("print lies under the issuer's red seal, which a gray scan cannot see through: scan the "
                              "front in colour")}

# What a refusal found in the scan that keeps it from supporting an accusation (``context`` flags of
# content_unconfirmed and scan_unrestorable), as the reader is told it.
DOUBTS = {"folded": _l("The sheet did not lie flat: the dotted frame shows a fold. Unfold it and scan it under the "
                       "closed lid."),
          "moved": _l("The print's strokes lie a little out of place all over the scrambled image (the printer moved "
                      "them as it printed), so its fields cannot be compared closely enough to confirm them. A new "
                      "scan will not change this: confirm the certificate with the issuing municipality, or ask for "
                      "a new copy."),
          "tones_lost": _l("The scan lost the print's grey tones (a black-and-white or text mode). Scan in colour."),
          "uneven_light": _l("Light fell unevenly on the sheet: glare or a reflection lifts black ink to grey in "
                             "places. Scan it under the closed lid, or photograph it again without glare."),
          "faded": _l("Much of the print's ink came out far paler than the issuer printed it (toner running out, or "
                      "inks printed pale or in another colour), so the fields cannot be compared. Scan it again in "
                      "colour; if the answer stays the same, confirm the certificate with the issuing municipality."),
          "spotted": _l("The blank paper beside the scrambled image carries dark specks, and specks inside it can "
                        "darken a field. Scan it again; if the paper itself is dirty, confirm the certificate with "
                        "the issuing municipality.")}

# Failures that a better scan can cure: their page links to the scanner settings.
SCAN_CODES = {"resolution_too_low", "markers_not_found", "grid_not_found", "code_unreadable", "corrupt_file",
              "too_large", "too_many_pixels", "too_many_pages", "unsupported_format", "empty_upload",
              "strip_unreadable", "content_unverifiable", "content_unconfirmed", "scan_unrestorable", "pdf_too_complex",
              "pdf_encrypted", "not_a_page"}
# Failures of a picture that may not show the back at all: their page shows what the back looks like.
WRONG_PICTURE_CODES = {"markers_not_found", "resolution_too_low", "not_a_page"}
# Failures that mean "do not trust this paper".
DISTRUST_CODES = {"bad_signature", "scramble_mismatch", "altered", "unknown_key", "unsupported_version"}


GOOD_DPI, READABLE_DPI = 280, 200  # a scan at about 300 dpi, and the least that still reads well
SOFT_MM, BLURRED_MM = 0.1, 0.2  # the dots' edge blur (sigma) from which a scan reads slightly soft, and blurred
PALE, VERY_PALE = 150, 100  # levels between the dots' ink and paper under which a scan reads pale, and very pale


# The eras the certificates print their dates in (年号), from their first day; year 1 is 元年.
ERAS = ((dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"), (dt.date(1926, 12, 25), "昭和"))


def wareki(day: dt.date) -> str:
    """``day`` as a Japanese certificate prints it: 令和8年12月5日 (the Gregorian date where no era applies)."""
    for start, era in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def quality_in_words(quality: dict[str, float]) -> dict[str, Any]:
    """The scan's figures (``Restoration.quality``) as a reader says them, and one line of advice: what to change
    next time, or that the scan is good. The API keeps the figures."""
    dpi = quality.get("dpi", 0.0)
    mm_per_px = 25.4 / dpi if dpi else 0.0
    blur_mm = quality.get("blur_px", 0.0) * mm_per_px
    contrast = quality.get("contrast", 255.0)
    rotation = quality.get("rotation_deg", 0.0)
    marks = int(quality.get("markers_found", 4))
    rows = [
        (_("Resolution"), _("about %(dpi)s dpi", dpi=round(dpi / 10) * 10)),
        (_("Sharpness"), _("sharp") if blur_mm < SOFT_MM else _("slightly soft") if blur_mm < BLURRED_MM
         else _("blurred")),
        (_("Contrast"), _("good") if contrast >= PALE else _("pale") if contrast >= VERY_PALE else _("very pale")),
        (_("Straightness"), _("upright") if abs(rotation) < 0.5 else _("turned %(deg)s°", deg=f"{rotation:.1f}")),
        (_("Corner marks"), _("all four found") if marks >= 4 else _("%(n)s of 4 found", n=marks)),
    ]
    if dpi < READABLE_DPI:
        advice = _("%(dpi)s dpi is low: scan at 300 dpi.", dpi=round(dpi))
    elif dpi < GOOD_DPI:
        advice = _("%(dpi)s dpi reads, but 300 dpi is recommended.", dpi=round(dpi / 10) * 10)
    elif blur_mm >= BLURRED_MM:
        advice = _("The scan is blurred: lay the sheet flat and keep it still, or use a flatbed scanner.")
    elif contrast < VERY_PALE:
        advice = _("The scan is very pale: turn off any brightening or text mode and scan in colour.")
    elif marks < 4:
        advice = _("A corner mark was covered or cut off: keep all four in the picture.")
    else:
        advice = _("A good scan.")
    return {"rows": rows, "advice": advice}


def region_label(name: str) -> str:
    """A bound region's name as a reader says it: "resident0.birth" is the first resident's date of birth."""
    person, _dot, field = name.rpartition(".")
    band = re.fullmatch(r"band(\d+)", name)
    if band:
        return _("part %(n)s of the page, counted from the top", n=int(band[1]))
    if field not in FIELD_LABELS:
        return name
    resident = re.fullmatch(r"resident(\d+)", person)
    if resident:
        return _("resident %(n)s: %(field)s", n=int(resident[1]) + 1, field=FIELD_LABELS[field])
    return str(FIELD_LABELS[field])


@functools.cache
def back_diagram() -> dict[str, Any]:
    """The back as the format lays it out (``verify.spec``), in millimetres, for the picture on the pages of
    a scan in which it was not found: the corner marks, the code's box, the scrambled area and the data strip."""
    mm = spec.MM_PER_INCH / spec.UNITS_PER_INCH

    def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, float]:
        return {"x": round(x0 * mm, 1), "y": round(y0 * mm, 1), "w": round((x1 - x0) * mm, 1),
                "h": round((y1 - y0) * mm, 1)}

    return {
        "w": round(spec.PAGE_W * mm), "h": round(spec.PAGE_H * mm),
        "markers": [{"x": round(r.x * mm, 1), "y": round(r.y * mm, 1), "s": round(r.w * mm, 1)}
                    for r in spec.marker_rects().values()],
        "code": box(*spec.QR_BOX),
        "area": box(spec.GRID_X, spec.GRID_Y, spec.GRID_X + spec.GRID_W, spec.GRID_Y + spec.GRID_H),
        "strip": box(spec.STRIP_X, spec.STRIP_Y, spec.STRIP_X + spec.GRID_W,
                     spec.STRIP_Y + spec.STRIP_ROWS * spec.STRIP_MODULE),
    }


def upload_form_context() -> dict[str, Any]:
    """What the upload form (``_upload_form.html``) needs beyond the page context."""
    return {"too_large_message": message_for("too_large", current_lang())}


def data_url(data: bytes, media_type: str) -> str:
    """``data`` as a data: URL, so that a picture is embedded in the page and never exists as a file."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
