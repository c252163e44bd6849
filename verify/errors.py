"""The one exception hierarchy of certverify: a stable machine code and a next step, in Japanese and English.

Every failure a user can meet is one of these classes. The web layer maps ``code`` to an HTTP status and shows
``message(lang)``; nowhere else invents error strings.
"""

from __future__ import annotations

from typing import Any

from .model import MIN_DPI


class VerifyError(Exception):
    """Base of every certverify error; subclasses set ``code`` and the two messages."""

    code: str = "verify_error"
    message_en: str = "The scan could not be verified."
    message_ja: str = "スキャン画像を検証できませんでした。"

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        super().__init__(detail or self.message_en)
        self.detail = detail
        self.context = context
        # milliseconds per pipeline stage passed before the refusal, and ``refused``: from the last of them to the
        # refusal (set by ``verify.restore``; never part of the answer)
        self.timings_ms: dict[str, float] = {}

    def message(self, lang: str = "ja") -> str:
        """The user-facing sentence (what went wrong and what to do) in ``lang`` ('ja' or 'en')."""
        return self.message_en if lang == "en" else self.message_ja

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """A JSON-ready description: stable code, message and non-personal context."""
        out: dict[str, Any] = {"code": self.code, "message": self.message(lang)}
        if self.detail:
            out["detail"] = self.detail
        context = self.public_context()
        if context:
            out["context"] = context
        return out

    def public_context(self) -> dict[str, Any]:
        """The context a client may see, JSON-ready: pictures (the tamper map, arrays) are left out."""
        return {k: v for k, v in self.context.items() if isinstance(v, str | int | float | bool | list | dict | None)}


# --- intake: the upload itself -------------------------------------------------------------------------------


class InputError(VerifyError):
    """The upload cannot be read as an image of a page."""


class EmptyUpload(InputError):
    code = "empty_upload"
    message_en = "The upload is empty. Choose the scan file of the certificate's back and send it again."
    message_ja = "ファイルが空です。証明書の裏面をスキャンしたファイルを選んで、もう一度送信してください。"


class UnsupportedFormat(InputError):
    code = "unsupported_format"
    message_en = ("This file type is not supported. Send a JPEG, PNG, TIFF, BMP, WebP or PDF scan of the "
                  "certificate's back.")
    message_ja = ("このファイル形式には対応していません。証明書の裏面を JPEG・PNG・TIFF・BMP・WebP・PDF の"
                  "いずれかで送信してください。")


class CorruptFile(InputError):
    code = "corrupt_file"
    message_en = ("The file is damaged or incomplete and cannot be decoded. Save the scan again from the scanner "
                  "and send the new file.")
    message_ja = "ファイルが壊れているか途中で切れているため読み込めません。スキャナーから保存し直して送信してください。"


class TooLarge(InputError):
    code = "too_large"
    message_en = "The file is too large. Scan at 300 dpi (600 dpi at most) and send a file under the size limit."
    message_ja = "ファイルが大きすぎます。300 dpi(最大 600 dpi)でスキャンし、上限より小さいファイルを送信してください。"


class TooManyPixels(InputError):
    code = "too_many_pixels"
    message_en = "The image has too many pixels. Scan the A4 back at 300 dpi (600 dpi at most) and send it again."
    message_ja = "画像の画素数が多すぎます。A4 の裏面を 300 dpi(最大 600 dpi)でスキャンし直してください。"


class TooManyPages(InputError):
    code = "too_many_pages"
    message_en = "The PDF has too many pages. Send only the page with the certificate's back."
    message_ja = "PDF のページ数が多すぎます。証明書の裏面のページだけを送信してください。"


class PdfEncrypted(InputError):
    code = "pdf_encrypted"
    message_en = ("The PDF is password-protected or encrypted, so its pages cannot be read. Save or print it again "
                  "as a PDF without a password (or send the scan as JPEG or PNG).")
    message_ja = ("PDF にパスワードまたは暗号化が設定されているため、ページを読み込めません。パスワードなしの PDF として"
                  "保存し直すか、スキャン画像を JPEG または PNG で送信してください。")


class PdfTooComplex(InputError):
    code = "pdf_too_complex"
    message_en = ("The PDF's pages are too complex to draw within this site's time and memory limits (a scan needs "
                  "only one picture per page). Send the scan itself as JPEG, PNG or a PDF saved by the scanner.")
    message_ja = ("PDF のページが複雑すぎて、このサイトの時間とメモリーの上限内で描画できません(スキャンは 1 ページに"
                  "画像 1 枚です)。スキャナーで保存した JPEG・PNG または PDF をそのまま送信してください。")


class NotAPage(InputError):
    code = "not_a_page"
    message_en = ("The image's shape cannot hold a certificate's back (far too narrow or too long for an A4 page). "
                  "Scan the whole A4 back at 300 dpi and send that picture.")
    message_ja = ("画像の縦横の形が証明書の裏面(A4)になり得ません(極端に細長い画像です)。A4 の裏面全体を 300 dpi で"
                  "スキャンして送信してください。")


# --- locating: finding the printed back in the picture ---------------------------------------------------------


class LocateError(VerifyError):
    """The picture was read but the printed back could not be found or measured in it."""


class ResolutionTooLow(LocateError):
    code = "resolution_too_low"
    message_en = (f"The scan resolution is too low: the back cannot be read below {MIN_DPI} dpi. Scan it at 300 dpi "
                  "and send it again.")
    message_ja = f"解像度が低すぎます。{MIN_DPI} dpi 未満では裏面を読み取れません。300 dpi でスキャンし直してください。"


class MarkersNotFound(LocateError):
    code = "markers_not_found"
    message_en = ("The four square corner marks of the back were not all found. Make sure the whole back, with all "
                  "four corner marks, is in the picture, flat and in focus, then scan it again.")
    message_ja = ("裏面の四隅にある四角いマークが見つかりませんでした。四隅のマークがすべて写るように、"
                  "用紙を平らにしてピントを合わせ、もう一度スキャンしてください。")


class BlankPage(MarkersNotFound):
    """No corner mark, and nothing printed on the page: the sheet scanned the wrong way up, or an empty one."""

    message_en = ("Nothing printed was found in the picture: the page is blank. Place the certificate with its back "
                  "(the side with the scrambled image, the code and the four corner marks) facing the scanner glass "
                  "or the camera, and scan it again.")
    message_ja = ("画像に印刷が見つかりませんでした(白紙です)。証明書の裏面(スクランブル画像・コード・四隅のマークがある"
                  "面)をスキャナーのガラス面またはカメラに向けて、もう一度スキャンしてください。")


class NotTheBack(MarkersNotFound):
    """No corner mark and no QR code anywhere: not the back (the front by mistake, another document, a photo)."""

    message_en = ("This picture has none of the back's four corner marks and no code: it looks like the front of "
                  "the certificate, another document or a photograph. Turn the sheet over and scan the back, the "
                  "side with the scrambled image, the code and the four corner marks.")
    message_ja = ("この画像には裏面の四隅のマークもコードもありません。証明書の表面か、別の書類・写真のようです。"
                  "用紙を裏返し、スクランブル画像・コード・四隅のマークがある裏面をスキャンしてください。")


class SheetNotFlat(MarkersNotFound):
    """Three or four corner marks found, but not where the corners of a flat sheet lie: a sheet bent or curled."""

    message_en = ("The corner marks of the back were found, but not where the corners of a flat sheet lie: the sheet "
                  "is bent or curled. Lay it flat on the scanner glass under the closed lid (or on a table, "
                  "photographed from straight above), then scan it again.")
    message_ja = ("裏面の四隅のマークは見つかりましたが、平らな用紙の四隅の位置にありません(用紙が曲がっているか、"
                  "反っています)。用紙をスキャナーのガラス面に平らに置いてふたを閉じるか、机の上に平らに置いて真上から"
                  "撮影し、もう一度スキャンしてください。")


class GridNotFound(LocateError):
    code = "grid_not_found"
    message_en = ("The dotted frame around the scrambled image could not be measured. The back may be folded, "
                  "cut off or covered: scan the whole sheet flat and send it again.")
    message_ja = ("スクランブル画像の周りの点線の枠を測定できませんでした。用紙の折れ・欠け・重なりがないか確認し、"
                  "用紙全体を平らにしてスキャンし直してください。")


# --- the printed code ------------------------------------------------------------------------------------------


class CodeError(VerifyError):
    """The machine-readable code is missing, unreadable or not trustworthy."""


class CodeUnreadable(CodeError):
    code = "code_unreadable"
    message_en = ("The QR code printed on the back could not be read. Scan at 300 dpi without blur or glare and "
                  "make sure the code is not covered or creased.")
    message_ja = ("裏面の QR コードを読み取れませんでした。300 dpi で、ぼけや反射がないようにスキャンし、"
                  "コードが隠れたり折れたりしていないか確認してください。")


class UnsupportedVersion(CodeError):
    code = "unsupported_version"
    message_en = ("The back uses a format version this site does not know. It may be newer than this site or not a "
                  "certificate back at all; contact the issuer.")
    message_ja = ("この裏面の形式バージョンには対応していません。新しい形式か、証明書の裏面ではない可能性があります。"
                  "発行元にお問い合わせください。")


class UnknownKey(CodeError):
    code = "unknown_key"
    message_en = ("The back names an issuing key this site does not know. The certificate cannot be confirmed; "
                  "contact the issuing municipality.")
    message_ja = "裏面に記録された発行鍵がこのサイトに登録されていません。証明書を確認できないため、発行した市区町村にお問い合わせください。"


class BadSignature(CodeError):
    code = "bad_signature"
    message_en = ("The issuer's signature in the code does not match its contents: the code was altered or forged. "
                  "Do not trust this certificate; contact the issuing municipality.")
    message_ja = ("コードの内容と発行元の署名が一致しません。コードが改ざんまたは偽造されています。"
                  "この証明書を信用せず、発行した市区町村にお問い合わせください。")


class StripUnreadable(CodeError):
    code = "strip_unreadable"
    message_en = ("The data strip below the scrambled image could not be read. Scan the whole back at 300 dpi, flat "
                  "and without glare, so that the strip and all four corner marks are in the picture.")
    message_ja = ("スクランブル画像の下にあるデータ帯を読み取れませんでした。四隅のマークとデータ帯がすべて写るように、"
                  "用紙を平らにして 300 dpi で反射なくスキャンし直してください。")


class SheetsDisagree(CodeError):
    code = "sheets_disagree"
    message_en = ("This sheet's code is genuine, but it names the serial number of another sheet in the same upload and "
                  "the two disagree on the issuer, the issue date, the document or the number of sheets: they are not "
                  "sheets of one issue of the certificate (a sheet of another issue, or one swapped in). Do not accept "
                  "them together as one certificate: ask the holder for all the sheets of one issue and scan them "
                  "together.")
    message_ja = ("このシートのコードは正規のものですが、同じアップロード内の別のシートと同じ証明書番号を示しながら、"
                  "発行者・発行日・証明書の種類・枚数が一致しません。同じ発行の証明書のシートではありません(別の発行の"
                  "シート、または差し替えられたシート)。一つの証明書として受け付けず、同じ発行のシートをすべて提出者に"
                  "求め、まとめてスキャンしてください。")


# --- restoring the front ---------------------------------------------------------------------------------------


class ScrambleMismatch(VerifyError):
    code = "scramble_mismatch"
    message_en = ("The scrambled image does not belong to the code printed beside it: it does not restore to a "
                  "coherent page. The back may be forged or assembled from different certificates. Do not trust it.")
    message_ja = ("スクランブル画像が隣の QR コードと対応していません(正しく復元できません)。"
                  "偽造または別の証明書を組み合わせた裏面の可能性があります。この証明書を信用しないでください。")


class ScanUnrestorable(VerifyError):
    code = "scan_unrestorable"
    message_en = ("The back's code and signature are genuine, but its scrambled image does not restore cleanly from "
                  "this scan: the sheet was folded and did not lie flat, or the print or the scan is too degraded "
                  "(faint, streaked, textured). This says nothing against the paper. Unfold it, lay it flat under "
                  "the scanner lid (a book on the lid helps) and scan the back again at 300 dpi in colour; if the "
                  "answer stays the same, ask the issuer.")
    message_ja = ("裏面の QR コードと署名は正規のものですが、このスキャンからはスクランブル画像をきれいに復元できません"
                  "(用紙が折られて平らになっていない、または印刷やスキャンの劣化が大きい:かすれ・すじ・地の汚れ)。"
                  "用紙の真偽を否定するものではありません。用紙を広げ、スキャナーのふたを閉めて平らにし(ふたの上に"
                  "本を置くと確実です)、300 dpi・カラーで裏面をスキャンし直してください。結果が変わらない場合は発行元に"
                  "お問い合わせください。")


class ContentUnverifiable(VerifyError):
    code = "content_unverifiable"
    message_en = ("This scan is black and white only (1 bit per pixel, like a fax): too coarse to check the names, "
                  "address and dates against the issuer's signature. Scan the back again in grayscale or colour at "
                  "300 dpi.")
    message_ja = ("このスキャン画像は白黒 2 値(ファクス相当)のため、氏名・住所・日付を発行元の署名と照合できません。"
                  "グレースケールまたはカラー、300 dpi で裏面をスキャンし直してください。")


class ContentMismatch(VerifyError):
    """Bound fields of the restored front come out darker than the issuer signed them: the answer names them, with
    a coarse tamper map in place of the front."""


class ContentUnconfirmed(ContentMismatch):
    code = "content_unconfirmed"
    message_en = ("The back is genuine and restores, but in the fields marked on the map the restored front comes "
                  "out darker than the issuer signed, and this scan cannot tell whether the paper or the scan did that "
                  "(a fold, specks or marks on the paper, a scan in black and white) or the certificate was changed. "
                  "Scan the back again flat, at 300 dpi and in colour, without anything on it. If the answer stays "
                  "the same, do not accept the paper before the issuing municipality confirms it.")
    message_ja = ("裏面は正規のもので復元できましたが、地図に示した項目で、復元した表面が発行元の署名より濃く写っています。"
                  "用紙やスキャンによるもの(折り目、用紙の汚れや書き込み、白黒スキャン)か、証明書が書き換えられたものか、"
                  "このスキャンでは判断できません。裏面に何も載せず、平らにして300 dpi・カラーでスキャンし直してください。"
                  "結果が変わらない場合は、交付した市区町村に確認するまで、この用紙を受け付けないでください。")


class Altered(ContentMismatch):
    code = "altered"
    message_en = ("The restored front differs from what the issuer signed in the regions marked on the map: the back "
                  "was altered or rebuilt for altered content. Do not trust this paper; contact the issuing "
                  "municipality.")
    message_ja = ("復元した表面が、発行元が署名した内容と地図に示した箇所で一致しません。裏面が改ざんされたか、"
                  "改ざんした内容に合わせて作り直されています。この用紙を信用せず、発行した市区町村にお問い合わせください。")


# --- the operator's side ---------------------------------------------------------------------------------------


class ConfigurationError(VerifyError):
    """The installation is misconfigured (for example no key ring): an operator's problem, not the user's."""

    code = "configuration"
    message_en = "The verification service is not configured correctly. Please try again later."
    message_ja = "検証サービスの設定に問題があります。しばらくしてからもう一度お試しください。"


def all_error_classes() -> list[type[VerifyError]]:
    """Every concrete error class, for documentation, catalogues and the web layer's status map."""
    seen: list[type[VerifyError]] = []
    stack: list[type[VerifyError]] = [VerifyError]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if "code" in sub.__dict__:
                seen.append(sub)
    return sorted(seen, key=lambda c: c.code)
