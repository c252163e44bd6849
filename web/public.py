"""The pages for people: upload, result, scanner settings, privacy, and one page per error code.

The upload form posts the scan to ``/verify``; the answer is the result page itself (or the error page with the
code's status), with the restored front embedded as a data: URL, so nothing of it is stored or cacheable.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

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
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from verify.errors import InputError
from verify.model import MIN_DPI
from web import auditlog, service, site_folder
from web.handlers import page_response
from web.i18n import JST, current_lang, in_language, other_language
from web.problems import all_codes, error_for, message_for, status_for
from web.ratelimit import client_address, ip_key, limiter, public_limit
from web.security import RESERVED_QUERY_NAMES
from web.wording import (
    DOCUMENT_TYPES,
    FRONT_REASONS,
    SIGNATURES,
    UNCHECKED_REASONS,
    data_url,
    quality_in_words,
    region_label,
    upload_form_context,
    wareki,
)

bp = Blueprint("public", __name__)

STATIC = site_folder("static")


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
    return render_template("upload.html", **upload_form_context())


@bp.get("/verify")
def verify_get() -> BaseResponse:
    return redirect(url_for("public.upload"))


@bp.post("/verify")
@limiter.limit(public_limit, key_func=ip_key)
def verify_post() -> Response:
    """Verify the uploaded scan and answer with the result page or the error page."""
    upload = request.files.get("scan")
    data = upload.read() if upload is not None else b""
    front_file = request.files.get("front")  # optional: a form whose second file was not chosen sends it empty
    front = front_file.read() if front_file is not None else b""
    client = auditlog.client_for_ip(client_address())
    images = {"image_format": current_app.config["RESULT_IMAGE_FORMAT"],
              "image_quality": int(current_app.config["RESULT_IMAGE_QUALITY"]), "paper_image": True}
    answer: service.Verification | service.Stack
    if front:  # the front as its own file: the scan is one certificate's back, the first back found
        answer = service.verify_scan(data, channel="web", client=client, front=front, **images)
    else:  # every page: a stack, or one sheet scanned duplex whose front page is paired with its back
        answer = service.verify_pages(data, channel="web", client=client, **images)
    if isinstance(answer, service.Stack):
        backs = answer.backs
        if len(backs) > 1 or answer.unchecked_pages:
            return make_response(render_template("stack.html", **stack_view(answer)))
        answer = backs[0] if backs else answer.pages[0]  # one back (the front and back of one sheet), or none
    if answer.error is not None:
        return page_response(answer.error)
    return make_response(render_template("result.html", **result_view(answer), other_page=_in_other_language(answer)))


SKIPPED = {"blank": _l("blank"), "no_back": _l("the front or another document"),
           "not_paper": _l("a photograph, not a sheet of paper")}


def stack_view(stack: service.Stack) -> dict[str, Any]:
    """What the stack template shows: one row per back (its result inside), the pages without one named."""
    lang = current_lang()
    rows = []
    for page in stack.backs:
        row: dict[str, Any] = {"page": page.page, "outcome": page.outcome, "view": None, "serial": None}
        if page.restoration is not None:
            facts = page.restoration.certificate
            row.update(view=result_view(page), serial=facts.serial, sheet=facts.sheet, sheets=facts.sheets)
        elif page.error is not None:
            context = getattr(page.error, "context", None) or {}
            row.update(code=page.error.code, message=page.error.message(lang), serial=context.get("serial"),
                       sheet=context.get("sheet"), sheets=context.get("sheets"))
        rows.append(row)
    certificates = stack.certificates
    return {
        "rows": rows,
        "certificates": certificates,
        "incomplete": any(c.missing for c in certificates),
        "verified": sum(row["outcome"] == "verified" for row in rows),
        "refused": any(row["outcome"] != "verified" for row in rows) or bool(stack.unchecked_pages),
        "skipped": [(page.page, SKIPPED.get(page.skipped or "", page.skipped), page.paired_with)
                    for page in stack.pages if page.skipped],
        "unchecked_pages": stack.unchecked_pages,
        "stopped_at": stack.pages[-1].page if stack.unchecked_pages and isinstance(stack.pages[-1].error, InputError)
        else None,  # the page that could not be read, where the reading ended
        "page_count": stack.upload.page_count,
        "request_id": stack.request_id,
    }


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
        image_url = data_url(result.image, result.image_media_type)
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
        "front": front_view(result, image=image),
    }


def front_view(result: service.Verification, image: bool = True) -> dict[str, Any] | None:
    """What the page shows of the paper front compared with the restored front: the outcome, the differing fields
    named in words with the text the issuer signed for each, why a comparison could not be made, and the pictures
    (``image``) with the boxes to outline on them."""
    check, r = result.front, result.restoration
    if check is None or r is None:
        return None
    comparison = check.comparison
    signed = {f["name"]: f["text"] for f in r.content.get("signed_text", [])}
    differing = [{"name": region.name, "label": region_label(region.name), "signed": signed.get(region.name),
                  "box": region.box} for region in comparison.regions if region.outcome == "differs"]
    by_reason: dict[str, list[str]] = {}  # fields left unread for one reason, named together and the reason said once
    for region in comparison.regions:
        if region.outcome == "unreadable":
            by_reason.setdefault(region.reason or "", []).append(region_label(region.name))
    unreadable = [(", ".join(labels), FRONT_REASONS.get(why, why)) for why, labels in by_reason.items()]
    reason = comparison.reason or ""
    if check.error is not None:
        why = check.error.message(current_lang())
    elif unreadable and any(region.reason == reason for region in comparison.regions):
        why = ""  # a field's own reason: said beside the field, in the list that follows
    else:
        why = FRONT_REASONS.get(reason, reason)
    media = check.media_type or ""
    return {
        "outcome": comparison.outcome,
        "why": why,
        "differing": differing,
        "unreadable": unreadable,
        "compared": len(comparison.regions),
        "matching": sum(region.outcome == "matches" for region in comparison.regions),
        "coarse": not r.regions,
        "marks": comparison.marks,
        "page": check.page,
        "boxes": [{"box": region.box, "outcome": region.outcome} for region in comparison.regions
                  if region.outcome != "matches"],
        "has_images": check.paper_image is not None and check.overlay_image is not None,
        "paper_url": data_url(check.paper_image, media) if image and check.paper_image else "",
        "overlay_url": data_url(check.overlay_image, media) if image and check.overlay_image else "",
    }


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
    return page_response(error_for(code), reference=True)


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
