"""The upload form: a scan in, the result page (or the error page of its code) out, one log entry per attempt."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from tests.support import csrf_token
from tests.web.helpers import ISSUER, SERIAL, log_entries, multipart, upload


def test_sample_back_verifies_and_shows_front_and_facts(app, client, sample):
    response = upload(client, sample.back_jpeg)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert f'<dd id="fact-serial" class="mono nowrap">{SERIAL}</dd>' in html
    assert f'<dd id="fact-issuer">見本市 ({ISSUER})</dd>' in html  # the ring's name and the signed code
    assert "住民票の写し" in html and "2026" in html
    assert "カラーコピー" in html  # what a check does not prove
    match = re.search(r'<img id="restored-front" src="data:image/jpeg;base64,([^"]+)"', html)
    assert match, "the restored front is embedded as a data: URL"
    front = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    assert front.width > 1000 and abs(front.height / front.width - 297 / 210) < 0.02
    tag = html[match.start():html.index(">", match.end())]
    assert f'alt="証明書 {SERIAL} の復元した表面' in tag
    # the signed text of the personal fields, as the issuer printed it, to compare with the paper
    signed = html.split('id="signed-text"')[1].split("</dl>")[0]
    assert re.findall(r'<dt>([^<]+)</dt><dd><span class="signed-value" lang="ja">([^<]+)</span>', signed)[:4] == [
        ("住所", "見本県見本市架空町一丁目2番3号"), ("世帯主", "見本　太郎"), ("1 人目の氏名", "見本　太郎"),
        ("1 人目の生年月日", "昭和55年4月1日")]
    assert signed.count('class="show-field"') == 8  # each pans the viewer to its field (with JavaScript)

    entries = log_entries(app)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["channel"] == "web" and entry["outcome"] == "verified" and entry["serial"] == SERIAL
    assert entry["client"].startswith("ip:") and "127.0.0.1" not in entry["client"]
    assert entry["input_format"] == "jpeg" and len(entry["upload_sha256"]) == 64
    assert not any(word in str(value) for value in entry.values() for word in ("見本", "太郎", "昭和"))  # no text


def test_result_page_in_english(client, sample):
    client.get("/?lang=en")
    html = upload(client, sample.back_jpeg).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "The back checks out" in html and "Certificate of residence" in html
    assert "a colour copy of a genuine sheet passes the check too" in html
    # after a result, the switch leads to the upload page: nothing of the scan is kept to show it again
    assert 'href="/?lang=ja"' in html


def test_pdf_upload_verifies(client, sample):
    response = upload(client, sample.pdf, filename="certificate.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert SERIAL in response.get_data(as_text=True)


def test_missing_csrf_token_is_refused(app, client, sample):
    response = client.post("/verify", **multipart({"scan": (sample.back_jpeg, "back.jpg")}))
    assert response.status_code == 400
    assert "csrf_failed" in response.get_data(as_text=True)
    assert log_entries(app) == []  # refused before any verification


def test_csrf_token_from_another_session_is_refused(app, sample):
    token = csrf_token(app.test_client())
    response = upload(app.test_client(), sample.back_jpeg, token=token)
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)


def test_empty_file_is_answered_with_its_code_and_logged(app, client):
    response = upload(client, b"", filename="empty.png")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="error-code">empty_upload<' in html
    assert "ファイルが空です" in html
    entries = log_entries(app)
    assert [(e["outcome"], e["error_code"], e["channel"]) for e in entries] == [("failed", "empty_upload", "web")]


def test_form_without_file_field(client):
    token = csrf_token(client)
    response = client.post("/verify", **multipart({"csrf_token": token}))
    assert response.status_code == 400 and "empty_upload" in response.get_data(as_text=True)


def test_text_file_behind_an_image_name(client):
    response = upload(client, b"hello, this is not a scan\n" * 20, filename="back.png")
    assert response.status_code == 415
    html = response.get_data(as_text=True)
    assert "unsupported_format" in html
    assert 'href="/scanner"' in html  # what to do next


def test_error_page_in_english_carries_the_pipeline_message(client):
    client.get("/?lang=en")
    html = upload(client, b"GIF89a" + b"\0" * 100, filename="back.gif").get_data(as_text=True)
    assert "This file type is not supported." in html


@pytest.mark.parametrize(("lang", "says"), [("en", "it looks like the front of the certificate"),
                                            ("ja", "証明書の表面か、別の書類・写真のようです")])
def test_the_front_sent_by_mistake_is_named_in_the_pages_language(client, sample, lang, says):
    """The front uploaded instead of the back: the page says so in its own language (it was told, in Japanese on
    an English page too, to get the four corner marks into the picture)."""
    import verify

    client.get(f"/?lang={lang}")
    front = verify.encode_image(sample.front, fmt="jpeg", quality=90)
    html = upload(client, front, filename="front.jpg").get_data(as_text=True)
    assert "markers_not_found" in html and says in html
    # what the back looks like, and the file chooser to try again in place
    assert 'id="back-diagram"' in html and 'id="upload-form"' in html and 'name="csrf_token"' in html


def test_request_too_large_is_413_with_code(app_factory, sample):
    client = app_factory(MAX_REQUEST_BYTES=200_000).test_client()
    response = upload(client, sample.back_jpeg)
    assert response.status_code == 413
    assert "request_too_large" in response.get_data(as_text=True)


def test_file_over_the_upload_limit_is_413_too_large(app_factory, sample):
    client = app_factory(MAX_UPLOAD_BYTES=100_000).test_client()
    response = upload(client, sample.back_jpeg)
    assert response.status_code == 413
    assert "too_large" in response.get_data(as_text=True)


def test_public_form_is_rate_limited_per_client_address(app_factory):
    app = app_factory(RATELIMIT_PUBLIC="2 per minute")
    client = app.test_client()
    for _ in range(2):
        assert upload(client, b"").status_code == 400
    response = upload(client, b"")
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert wait >= 1
    html = response.get_data(as_text=True)
    said = re.search(r"(\d+) 秒待ってから", html)  # how long, in words, not "see Retry-After"
    assert "rate_limited" in html and said and abs(int(said[1]) - wait) <= 1
    # another address is counted on its own
    other = app.test_client()
    token = csrf_token(other)
    response = upload(other, b"", token=token, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 400
    assert len(log_entries(app)) == 3  # the refused request never reached the pipeline


def test_proxy_hops_decide_the_client_address(app_factory):
    app = app_factory(RATELIMIT_PUBLIC="1 per minute", PROXY_FIX_HOPS=1)
    client = app.test_client()
    for address in ("198.51.100.1", "198.51.100.2"):
        response = upload(client, b"", headers={"X-Forwarded-For": address})
        assert response.status_code == 400  # each forwarded address has its own allowance
    clients = {e["client"] for e in log_entries(app)}
    assert len(clients) == 2


def test_forwarded_for_is_ignored_without_trusted_proxies(app_factory):
    app = app_factory(RATELIMIT_PUBLIC="1 per minute")
    client = app.test_client()
    statuses = []
    for address in ("198.51.100.1", "198.51.100.2"):
        statuses.append(upload(client, b"", headers={"X-Forwarded-For": address}).status_code)
    assert statuses == [400, 429]


def test_a_back_rebuilt_for_an_altered_front_is_called_altered(app, client, sample):
    """The forger's best back (exact block map, genuine code and data strip) for a front with a changed address,
    birth date and name: the page names the three fields, shows the tamper map and never the front."""
    response = upload(client, sample.forged_png, filename="back.png")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "改ざんされている疑い" in html and "この用紙を信用せず" in html
    assert re.findall(r"<li>([^<]+)</li>", html.split('class="regions"')[1].split("</ul>")[0]) == [
        "住所", "1 人目の氏名", "1 人目の生年月日"]
    assert 'class="tamper-map" src="data:image/png;base64,' in html
    assert 'id="restored-front"' not in html
    assert 'id="upload-form"' not in html  # another scan of this paper is no remedy
    entry = log_entries(app)[-1]
    assert (entry["outcome"], entry["error_code"], entry["serial"], entry["signature"]) == (
        "altered", "altered", SERIAL, "valid")
    # the log names the fields, never their text
    assert json.loads(entry["regions"]) == ["address", "resident0.name", "resident0.birth"]


def test_the_result_says_whether_the_content_is_bound(client, sample):
    html = upload(client, sample.back_png, filename="back.png").get_data(as_text=True)
    assert re.search(r'id="fact-content">発行元の署名内容と照合済み:8 か所', html)
    html = upload(client, sample.v1_png, filename="back.png").get_data(as_text=True)
    assert 'id="restored-front"' in html
    assert 'id="fact-content" class="warn">保護なし(形式 v1 の裏面)' in html


def test_development_offers_the_sample_back(app_factory, tmp_path):
    app = app_factory(ENV="development")
    sample_dir = tmp_path / "instance"
    (sample_dir / "sample").mkdir(parents=True)
    (sample_dir / "sample" / "back.png").write_bytes(b"\x89PNG\r\n\x1a\nsample")
    app.instance_path = str(sample_dir)
    client = app.test_client()
    assert "sample-back.png" in client.get("/").get_data(as_text=True)
    with client.get("/dev/sample-back.png") as response:
        assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    production = app_factory()
    production.instance_path = str(sample_dir)
    assert production.test_client().get("/dev/sample-back.png").status_code == 404
    assert "sample-back.png" not in production.test_client().get("/").get_data(as_text=True)


def test_a_stamped_back_names_the_fields_it_could_not_check(client, sample):
    """A red receiving stamp over the back: verified, with the fields under it listed as not checked and the
    count of regions compared saying so; the hatched blocks are explained."""
    import cv2
    import numpy as np

    from tests import field

    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(sample.back_png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    rng = np.random.default_rng(3)
    response = upload(client, field.finish(field.stamp(back, rng, colour="red"), rng), filename="back.jpg")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    unchecked = re.findall(r"<li>([^<]+)</li>", html.split('id="fact-unchecked"')[1].split("</dd>")[0])
    assert unchecked and all("裏面の書き込み・押印・付箋などに覆われている" in item for item in unchecked)
    assert re.search(r'id="fact-content">発行元の署名内容と照合済み:8 か所のうち \d か所で書き加えなし', html)
    assert 'id="fact-marks"' in html


def test_a_refusal_says_what_in_the_scan_keeps_it_from_accusing(app):
    """``scan_unrestorable`` on speckled paper and ``content_unconfirmed`` on a folded sheet: the page says what the
    scan showed and what to do, in the page's language; an answer without such a flag says nothing of the kind."""
    from verify.errors import ContentUnconfirmed, ScanUnrestorable
    from web.handlers import page_response

    def doubts(error, lang):
        with app.test_request_context(f"/?lang={lang}"):
            html = page_response(error).get_data(as_text=True)
        block = html.split('id="error-doubts"')[1].split("</ul>")[0] if 'id="error-doubts"' in html else ""
        return re.findall(r"<li>([^<]+)</li>", block)

    spotted = ScanUnrestorable("the blocks do not fit", coherence=0.99, spotted=True)
    assert doubts(spotted, "en") == ["The blank paper beside the scrambled image carries dark specks, and specks "
                                     "inside it can darken a field. Scan it again; if the paper itself is dirty, "
                                     "confirm the certificate with the issuing municipality."]
    assert "濃い汚れの点" in doubts(spotted, "ja")[0]
    folded = ContentUnconfirmed("darker", regions=[{"name": "address", "box": [0, 0, 8, 8]}], folded=True)
    assert doubts(folded, "en")[0].startswith("The sheet did not lie flat")
    glare = ContentUnconfirmed("darker", regions=[{"name": "address", "box": [0, 0, 8, 8]}], uneven_light=True)
    assert doubts(glare, "en")[0].startswith("Light fell unevenly on the sheet")
    assert "照り返し" in doubts(glare, "ja")[0]
    faded = ContentUnconfirmed("darker", regions=[{"name": "address", "box": [0, 0, 8, 8]}], faded=True)
    assert doubts(faded, "en")[0].startswith("Much of the print's ink came out far paler")
    assert "トナー切れ" in doubts(faded, "ja")[0]
    moved = ContentUnconfirmed("darker", regions=[{"name": "address", "box": [0, 0, 8, 8]}], moved=True)
    assert doubts(moved, "en")[0].startswith("The print's strokes lie a little out of place")
    assert "A new scan will not change this" in doubts(moved, "en")[0]
    assert "印刷の線がわずかにずれています" in doubts(moved, "ja")[0]
    assert doubts(ContentUnconfirmed("darker", regions=[]), "en") == []


def test_every_document_type_a_code_carries_is_named_on_the_result_page(client, sample):
    """The page names the document types by the codes the issuing side writes (``verify.code.DOCUMENT_TYPES``; a
    seal-registration certificate showed its raw code)."""
    import verify
    from verify.code import DOCUMENT_TYPES
    from web.wording import DOCUMENT_TYPES as NAMES

    assert NAMES.keys() == DOCUMENT_TYPES.keys()
    ring = verify.KeyRing.load(sample.keys_dir)
    seal = verify.issue(ring, serial="SEAL-000001", issuer=ISSUER, document_type="seal-registration")
    html = upload(client, verify.encode_image(seal.back, fmt="png"), filename="back.png").get_data(as_text=True)
    document = re.search(r'id="fact-document-type">([^<]*)<', html)
    assert document and "印鑑登録証明書" in document[1] and "seal-registration" not in document[1]


def test_scan_details_are_said_in_words_with_one_line_of_advice(client, sample):
    """The sample back at 300 dpi: its resolution in words and "a good scan", not the pipeline's raw keys; a 180 dpi
    copy of it is told to scan at 300 dpi."""
    import cv2
    import numpy as np

    import verify

    client.get("/?lang=en")
    html = upload(client, sample.back_png, filename="back.png").get_data(as_text=True)
    details = html.split('class="panel quality"')[1].split("</details>")[0]
    assert "about 300 dpi" in details and "A good scan." in details
    assert not any(key in details for key in ("blur_px", "grid_rms_px", "coherence", "marker_error_px"))
    rgb = np.asarray(Image.open(io.BytesIO(sample.back_png)).convert("RGB"))
    half = cv2.resize(rgb, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    html = upload(client, verify.encode_image(half, fmt="png"), filename="back.png").get_data(as_text=True)
    assert re.search(r"1[78]\d dpi is low: scan at 300 dpi\.", html)


def test_dates_are_shown_as_the_paper_prints_them():
    """``wareki``: the era a certificate prints its dates in, with year 1 as 元年, on the eras' first days."""
    import datetime as dt

    from web.wording import wareki

    assert wareki(dt.date(2026, 12, 5)) == "令和8年12月5日"
    assert wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(dt.date(2019, 4, 30)) == "平成31年4月30日"
    assert wareki(dt.date(1989, 1, 7)) == "昭和64年1月7日"
    assert wareki(dt.date(1989, 1, 8)) == "平成元年1月8日"


def test_the_result_uses_the_papers_labels_and_dates(client, sample):
    """発行番号 as the paper labels the serial, and the issue date in the paper's era with the Gregorian beside it."""
    from web.wording import wareki

    html = upload(client, sample.back_png, filename="back.png").get_data(as_text=True)
    assert "<dt>発行番号</dt>" in html
    issued = re.search(r'id="fact-issued-on">(.*?)</dd>', html, re.S)[1]
    assert wareki(sample.facts.issued_on) in issued and str(sample.facts.issued_on.year) in issued


def test_a_failed_attempt_is_logged_with_the_format_size_and_dpi_it_had(app, client, sample):
    """A refused scan's log entry says what the upload was (these fields were always empty on failures): the front
    sent by mistake, with its format and size; a back rebuilt for an altered front, with its dpi too."""
    import verify

    front = verify.encode_image(sample.front, fmt="jpeg", quality=90)
    assert upload(client, front, filename="front.jpg").status_code == 422
    wrong = log_entries(app)[-1]
    height, width = sample.front.shape[:2]
    assert (wrong["input_format"], wrong["width"], wrong["height"]) == ("jpeg", width, height)
    assert wrong["dpi_estimate"] is None  # no back was found to measure
    assert upload(client, sample.forged_png, filename="back.png").status_code == 422
    altered = log_entries(app)[-1]
    assert altered["error_code"] == "altered" and altered["input_format"] == "png"
    assert 280 <= altered["dpi_estimate"] <= 320


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_the_result_page_is_compressed_and_its_facts_come_before_its_image(client, sample, encoding):
    """The answer is sent compressed when the browser accepts it, and its verdict and facts precede the embedded
    image in the document, so that a slow link shows them first."""
    import gzip

    import brotli

    response = upload(client, sample.back_jpeg, headers={"Accept-Encoding": f"{encoding}, deflate"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    raw = response.get_data()
    html = (brotli.decompress(raw) if encoding == "br" else gzip.decompress(raw)).decode()
    assert len(raw) < 0.8 * len(html)
    assert html.index('id="fact-serial"') < html.index("<!--certverify:image-->") < html.index("data:image/jpeg")
    assert SERIAL in html


def test_pages_without_accept_encoding_and_console_pages_are_not_compressed(client):
    assert "Content-Encoding" not in client.get("/?lang=en").headers
    assert client.get("/?lang=en", headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    # the console reflects search text beside its CSRF token: compressing it would let a third party guess the token
    page = client.get("/audit/sign-in", headers={"Accept-Encoding": "gzip, br"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers
