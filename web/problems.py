"""Error codes at the HTTP boundary: the one status map, the web layer's own errors, RFC 9457 problem bodies.

Pipeline failures bring their messages from ``verify.errors``; failures that only the web layer can meet (no API
key, too many requests, a stale form) are the ``WebError`` rows below. Nothing else in the site invents an error
sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from verify.errors import VerifyError, all_error_classes

# HTTP status of every pipeline code that is not 422.
PIPELINE_STATUS: dict[str, int] = {
    "empty_upload": 400,
    "unsupported_format": 415,
    "too_large": 413,
    "too_many_pixels": 413,
    "too_many_pages": 413,
    "configuration": 503,  # the operator's fault (no key ring, ...), not the client's: retry later
}
DEFAULT_PIPELINE_STATUS = 422  # the scan was read but is not a verifiable back (including `altered`)


@dataclass(frozen=True)
class WebErrorKind:
    """One row of the web layer's error table."""

    code: str
    status: int
    message_en: str
    message_ja: str
    wait_en: str = ""  # said instead when the answer knows how long to wait: {seconds}
    wait_ja: str = ""


WEB_ERRORS: dict[str, WebErrorKind] = {k.code: k for k in (
    WebErrorKind("bad_request", 400,
                 "The request could not be read. Send the scan again as a file upload or as the request body.",
                 "リクエストを読み取れませんでした。スキャン画像をファイルとして、またはリクエスト本文として送り直してください。"),
    WebErrorKind("csrf_failed", 400,
                 "The form has expired or did not come from this site. Reload the page and choose the file again.",
                 "フォームの有効期限が切れたか、このサイトのフォームではありません。ページを再読み込みして、もう一度ファイルを選んでください。"),
    WebErrorKind("unauthorized", 401,
                 "A valid API key is required. Send it as 'Authorization: Bearer <key>'; ask the site's "
                 "administrator for a key if you have none or yours was revoked.",
                 "有効な API キーが必要です。「Authorization: Bearer <キー>」で送信してください。キーがない場合や"
                 "失効した場合は、サイトの管理者に発行を依頼してください。"),
    WebErrorKind("forbidden", 403,
                 "Your account may not do this. Ask an administrator of the auditors' console.",
                 "このアカウントではこの操作はできません。監査コンソールの管理者に依頼してください。"),
    WebErrorKind("not_found", 404,
                 "There is no page at this address. Check the address or start again from the upload page.",
                 "このアドレスのページはありません。アドレスを確認するか、アップロードページからやり直してください。"),
    WebErrorKind("method_not_allowed", 405,
                 "This address does not accept this kind of request. Use the upload form or the documented API call.",
                 "このアドレスはこの種類のリクエストを受け付けません。アップロードフォームか、説明どおりの API を使ってください。"),
    WebErrorKind("request_timeout", 408,
                 "The request was not sent in time and the connection was closed. Check the connection and send it "
                 "again.",
                 "リクエストが時間内に届かなかったため、接続を閉じました。通信環境を確認して、もう一度送信してください。"),
    WebErrorKind("request_too_large", 413,
                 "The request is too large. Send one scan of the certificate's back, at 300 dpi, under the size limit.",
                 "リクエストが大きすぎます。証明書の裏面のスキャン画像を 1 つだけ、300 dpi で上限より小さくして送信してください。"),
    WebErrorKind("rate_limited", 429,
                 "Too many checks in a short time. Wait a little and try again.",
                 "短時間に確認の回数が多すぎます。しばらく待ってからもう一度お試しください。",
                 "Too many checks in a short time. Wait {seconds} seconds and try again.",
                 "短時間に確認の回数が多すぎます。{seconds} 秒待ってからもう一度お試しください。"),
    WebErrorKind("internal", 500,
                 "Something went wrong on our side and the check was not completed. Try again later; the fault "
                 "was recorded.",
                 "サイト側の問題で確認を完了できませんでした。時間をおいて再度お試しください。この障害は記録されています。"),
    WebErrorKind("unavailable", 503,
                 "The check cannot be recorded right now, so it was not carried out. Try again in a few minutes.",
                 "現在、確認の記録ができないため、確認を行いませんでした。数分後にもう一度お試しください。",
                 "The check cannot be recorded right now, so it was not carried out. Try again in {seconds} seconds.",
                 "現在、確認の記録ができないため、確認を行いませんでした。{seconds} 秒後にもう一度お試しください。"),
    WebErrorKind("overloaded", 503,
                 "The site is busy with other checks right now. Try again in a few seconds.",
                 "現在ほかの確認の処理で混み合っています。数秒後にもう一度お試しください。",
                 "The site is busy with other checks right now. Try again in {seconds} seconds.",
                 "現在ほかの確認の処理で混み合っています。{seconds} 秒後にもう一度お試しください。"),
)}


class WebError(Exception):
    """A failure of the web layer, with the same face as ``VerifyError``: code, message(lang), context."""

    def __init__(self, code: str, retry_after: int | None = None, **context: Any) -> None:
        super().__init__(code)
        self.kind = WEB_ERRORS[code]
        self.code = code
        self.retry_after = retry_after
        self.context = context

    def message(self, lang: str = "ja") -> str:
        wait = self.kind.wait_en if lang == "en" else self.kind.wait_ja
        if wait and self.retry_after:
            return wait.format(seconds=int(self.retry_after))
        return self.kind.message_en if lang == "en" else self.kind.message_ja


PIPELINE_CODES = frozenset(cls.code for cls in all_error_classes())


def status_for(code: str) -> int:
    """The HTTP status of an error code, pipeline or web. A code neither table knows is a programming error
    (``KeyError``), not a status to guess: every error the site can raise is declared in one of them."""
    if code in WEB_ERRORS:
        return WEB_ERRORS[code].status
    if code in PIPELINE_CODES:
        return PIPELINE_STATUS.get(code, DEFAULT_PIPELINE_STATUS)
    raise KeyError(f"unknown error code {code!r}")


def error_for(code: str) -> VerifyError | WebError:
    """An error of ``code`` without context (for the pages that explain a code); ``KeyError`` for an unknown code."""
    if code in WEB_ERRORS:
        return WebError(code)
    for cls in all_error_classes():
        if cls.code == code:
            return cls()
    raise KeyError(f"unknown error code {code!r}")


def message_for(code: str, lang: str) -> str:
    """The user sentence of a known code (for the error pages), from its one source."""
    return error_for(code).message(lang)


def all_codes() -> list[str]:
    """Every code the site can answer with, pipeline codes first."""
    return [cls.code for cls in all_error_classes()] + sorted(WEB_ERRORS)


def public_context(error: VerifyError | WebError) -> dict[str, Any]:
    """The part of an error's context that is safe and useful to show a client (JSON-ready)."""
    out: dict[str, Any] = {}
    for key, val in (error.context or {}).items():
        if key in {"image", "tamper_map"}:  # arrays: shown as pictures on the page, never dumped as JSON
            continue
        if isinstance(val, (str, int, float, bool, type(None), list, dict)):
            out[key] = val
    return out


def problem(error: VerifyError | WebError, *, lang: str, request_id: str, type_url: str) -> dict[str, Any]:
    """An RFC 9457 problem body for ``error``."""
    status = status_for(error.code)
    body: dict[str, Any] = {
        "type": type_url,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": error.code,
        "detail": error.message(lang),
        "instance": f"urn:uuid:{request_id}",
        "request_id": request_id,
    }
    context = public_context(error)
    if context:
        body["context"] = context
    return body
