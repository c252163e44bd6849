"""The pages for people: upload, result, scanner settings, privacy, and one page per error code.

The upload form posts the scan to ``/verify``; the answer is the result page itself (or the error page with the
code's status), with the restored front embedded as a data: URL, so nothing of it is stored or cacheable.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

import verify
from verify import spec
from verify.errors import VerifyError
from verify.model import MIN_DPI
from web import auditlog, service, site_folder
from web.i18n import JST, current_lang, in_language, other_language
from web.problems import WEB_ERRORS, WebError, all_codes, message_for, public_context, status_for
from web.ratelimit import client_address, ip_key, limiter, public_limit
from web.security import RESERVED_QUERY_NAMES

bp = Blueprint("public", __name__)

STATIC = site_folder("static")

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

# What a refusal found in the scan that keeps it from supporting an accusation (``context`` flags of
# content_unconfirmed and scan_unrestorable), as the reader is told it.
DOUBTS = {"folded": _l("The sheet did not lie flat: the dotted frame shows a fold. Unfold it and scan it under the "
                       "closed lid."),
          "tones_lost": _l("The scan lost the print's grey tones (a black-and-white or text mode). Scan in colour."),
          "uneven_light": _l("Light fell unevenly on the sheet: glare or a reflection lifts black ink to grey in "
                             "places. Scan it under the closed lid, or photograph it again without glare."),
          "faded": _l("Much of the print's ink came out far paler than the issuer printed it (toner running out, or "
                      "inks printed pale or in another colour), so the fields cannot be compared. Scan it again in "
                      "colour; if the answer stays the same, compare the paper with the signed text."),
          "spotted": _l("The blank paper beside the scrambled image carries dark specks, and specks inside it can "
                        "darken a field. Scan it again; if the paper itself is dirty, compare it with the signed text.")}

# Failures that a better scan can cure: their page links to the scanner settings.
SCAN_CODES = {"resolution_too_low", "markers_not_found", "grid_not_found", "code_unreadable", "corrupt_file",
              "too_large", "too_many_pixels", "too_many_pages", "unsupported_format", "empty_upload",
              "strip_unreadable", "content_unverifiable", "content_unconfirmed", "scan_unrestorable", "pdf_too_complex",
              "pdf_encrypted", "not_a_page"}
# Failures of a picture that may not show the back at all: their page shows what the back looks like.
WRONG_PICTURE_CODES = {"markers_not_found", "resolution_too_low", "not_a_page"}
# Failures that mean "do not trust this paper".
DISTRUST_CODES = {"bad_signature", "scramble_mismatch", "altered", "unknown_key", "unsupported_version"}


@bp.app_context_processor
def page_context() -> dict[str, Any]:
    lang = current_lang()
    return {
        "lang": lang,
        "switch_url": switch_url,
        "max_upload_mb": current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024),
        "development": current_app.config.get("ENV") == "development",
    }


def switch_url(lang: str) -> str:
    """The same page in ``lang``; after a POST (a result) the upload page, since nothing of the scan is kept."""
    if request.method != "GET" or request.endpoint is None or request.url_rule is None:
        return url_for("public.upload", lang=lang)
    view_args = request.view_args or {}
    # Any: url_for also takes a bool ``_external`` keyword, which a dict of str as such would be checked against
    args: dict[str, Any] = {k: v for k, v in request.args.items()
                            if k != "lang" and k not in view_args and k not in RESERVED_QUERY_NAMES}
    return url_for(request.endpoint, **(request.view_args or {}), **args, lang=lang)


@bp.get("/")
def upload() -> str:
    return render_template("upload.html", **_form_context())


def _form_context() -> dict[str, Any]:
    """What the upload form (``_upload_form.html``) needs beyond the page context."""
    return {"too_large_message": message_for("too_large", current_lang())}


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


@bp.get("/verify")
def verify_get() -> BaseResponse:
    return redirect(url_for("public.upload"))


@bp.post("/verify")
@limiter.limit(public_limit, key_func=ip_key)
def verify_post() -> Response:
    """Verify the uploaded scan and answer with the result page or the error page."""
    upload = request.files.get("scan")
    data = upload.read() if upload is not None else b""
    client = auditlog.client_for_ip(client_address())
    result = service.verify_scan(data, channel="web", client=client,
                                 image_format=current_app.config["RESULT_IMAGE_FORMAT"],
                                 image_quality=int(current_app.config["RESULT_IMAGE_QUALITY"]))
    if result.error is not None:
        return error_response(result.error)
    return make_response(render_template("result.html", **result_view(result), other_page=_in_other_language(result)))


def _in_other_language(result: service.Verification) -> dict[str, str]:
    """The result page's body and title in the language the switch offers, without the image (the page takes its
    own): the switch then shows the same answer in that language without sending the scan again, which the site
    cannot do otherwise (it keeps nothing of a scan)."""
    lang = other_language()
    with in_language(lang):
        html = render_template("result.html", **result_view(result, image=False), other_page=None)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    body = html.split("<body>", 1)[1].rsplit("</body>", 1)[0]
    return {"lang": lang, "title": Markup(title[1]).unescape() if title else "", "body": Markup(body)}


def result_view(result: service.Verification, image: bool = True) -> dict[str, Any]:
    """What the result template shows (``image``: with the restored front embedded)."""
    r = result.restoration
    assert r is not None  # shown only for a result without an error, which verify_scan gives a restoration
    facts = r.certificate
    height, width = r.image.shape[:2]
    image_url = ""
    if image:
        if result.image is None or result.image_media_type is None:  # the TypeError base64 would raise on None
            raise TypeError("no encoded front to embed: verify_scan was given no image format")
        image_url = _data_url(result.image, result.image_media_type)
    return {
        "request_id": result.request_id,
        "checked_at": dt.datetime.now(JST).strftime("%Y-%m-%d %H:%M JST"),
        "image_url": image_url,
        "image_width": width,
        "image_height": height,
        "facts": facts,
        "issuer": f"{facts.issuer_name} ({facts.issuer})" if facts.issuer_name else facts.issuer,
        "document_type": DOCUMENT_TYPES.get(facts.document_type, facts.document_type),
        "issued_on": format_date(facts.issued_on, format="long"),
        "issued_on_wareki": wareki(facts.issued_on),
        "signature": SIGNATURES.get(facts.signature, facts.signature),
        "quality": quality_in_words(r.quality or {}),
        "upload": r.upload,
        "page_index": r.page_index,
        "content": r.content,
        "signed_text": [{"label": region_label(f["name"]), "text": f["text"], "box": f.get("box", [])}
                        for f in r.content.get("signed_text", [])],
        "unchecked": [(region_label(f["name"]), UNCHECKED_REASONS.get(f["reason"], f["reason"]))
                      for f in r.content.get("unchecked", [])],
        "marked": bool(r.content.get("marks")),
    }


def _data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def error_response(error: VerifyError | WebError, reference: bool = False) -> Response:
    """The error page of ``error`` with its status code (also used by the app's error handlers);
    ``reference`` renders the code's explanation page instead of a failed request's answer."""
    status = status_for(error.code)
    context = getattr(error, "context", None) or {}
    in_console = request.path.startswith("/audit/") and not reference  # the console's bar stays
    response = make_response(render_template(
        "audit/error.html" if in_console else "error.html",
        code=error.code,
        status=status,
        message=error.message(current_lang()),
        outcome="altered" if error.code == "altered" else "failed",
        regions=_regions(context.get("regions")),
        doubts=[text for flag, text in DOUBTS.items() if context.get(flag) is True],
        tamper_map_url=_tamper_map_url(context.get("tamper_map")),
        scan_advice=error.code in SCAN_CODES,
        try_again=error.code in SCAN_CODES and not reference,
        diagram=back_diagram() if error.code in WRONG_PICTURE_CODES else None,
        **_form_context(),
        distrust=error.code in DISTRUST_CODES,
        web_error=error.code in WEB_ERRORS,
        context=public_context(error) if error.code not in WEB_ERRORS else {},
        request_id=_request_id(),
        reference=reference,
    ), 200 if reference else status)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(int(retry_after))
    return response


def _request_id() -> str:
    from web.security import request_id

    return request_id()


def _regions(regions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The regions of an ``altered`` verdict (``verify.restore`` names each with its box), as a reader names them."""
    return [{"name": region_label(r["name"]), "box": r["box"]} for r in regions or []]


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


def _tamper_map_url(tamper_map: np.ndarray | None) -> str | None:
    """The coarse tamper map of an ``altered`` verdict (RGB) as a data: URL, encoded in memory."""
    return None if tamper_map is None else _data_url(verify.encode_image(tamper_map, fmt="png"), "image/png")


@bp.get("/scanner")
def scanner() -> str:
    return render_template("scanner.html", min_dpi=MIN_DPI)


@bp.get("/privacy")
def privacy() -> str:
    return render_template("privacy.html")


@bp.get("/errors/")
def error_index() -> str:
    lang = current_lang()
    codes = [(code, status_for(code), message_for(code, lang)) for code in all_codes()]
    return render_template("errors.html", codes=codes)


@bp.get("/errors/<code>")
def error_page(code: str) -> Response:
    """What ``code`` means and what to do: the ``type`` of every problem document points here."""
    if code not in all_codes():
        abort(404)
    error = WebError(code) if code in WEB_ERRORS else _pipeline_error(code)
    return error_response(error, reference=True)


def _pipeline_error(code: str) -> VerifyError:
    from verify.errors import all_error_classes

    return next(cls for cls in all_error_classes() if cls.code == code)()


@bp.get("/dev/sample-back.png")
def sample_back() -> Response:
    """Development only: the sample certificate's back that `make run` issued, to try the page with."""
    folder = Path(current_app.instance_path) / "sample"
    if current_app.config.get("ENV") != "development" or not (folder / "back.png").is_file():
        abort(404)
    return send_from_directory(folder, "back.png", mimetype="image/png", as_attachment=True,
                               download_name="sample-back.png")


@bp.get("/favicon.ico")
def favicon() -> Response:
    return send_from_directory(STATIC, "favicon.ico", mimetype="image/vnd.microsoft.icon")
