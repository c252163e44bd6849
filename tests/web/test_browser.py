"""End to end in real headless Chromium (Debian's, driven by Playwright): a person uploads the sample back with
the file chooser, reads the restored front and the facts, switches language; screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.support import ARTIFACTS, accessibility_violations
from tests.web.helpers import ISSUER, SERIAL, stack_pdf

SHOTS = ARTIFACTS / "web"


@pytest.fixture(scope="module", autouse=True)
def shots() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


def choose_and_send(page, path) -> None:
    """Pick the file with the file chooser, as a person does, and press the button."""
    with page.expect_file_chooser() as chooser:
        page.click("#scan")
    chooser.value.set_files(str(path))
    page.click("#submit")


def check_result(page) -> None:
    front = page.locator("#restored-front")
    front.wait_for(state="visible")
    size = front.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size[0] and size[1] > 1000 and size[2] > size[1]
    assert page.locator("#fact-serial").inner_text() == SERIAL
    assert page.locator("#fact-issuer").inner_text() == f"見本市 ({ISSUER})"


def test_upload_sample_back_read_front_switch_language(page, live_server, sample):
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_label("証明書の裏面のスキャン画像").is_visible()
    page.screenshot(path=str(SHOTS / "upload-ja.png"), full_page=True)

    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    assert page.url == live_server.url + "/"  # the script sent it (with the progress bar) and showed the answer
    assert "住民票の写し" in page.locator("#fact-document-type").inner_text()
    assert "カラーコピー" in page.content()
    page.screenshot(path=str(SHOTS / "result-ja.png"), full_page=False)
    page.screenshot(path=str(SHOTS / "result-ja-full.png"), full_page=True)

    # zoom with the keyboard: focus the front, press + twice, it grows; 0 fits it again
    fitted = page.locator("#restored-front").bounding_box()["width"]
    page.focus(".front-frame")
    page.keyboard.press("+")
    page.keyboard.press("+")
    zoomed = page.locator("#restored-front").bounding_box()["width"]
    assert zoomed > fitted * 1.3
    page.screenshot(path=str(SHOTS / "result-ja-zoomed.png"))
    page.keyboard.press("0")
    assert page.locator("#restored-front").bounding_box()["width"] == fitted

    page.click("#switch-en")  # the same answer in English
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Certificate of residence" in page.locator("#fact-document-type").inner_text()
    page.goto(live_server.url + "/?lang=en")
    page.screenshot(path=str(SHOTS / "upload-en.png"), full_page=True)
    choose_and_send(page, sample.files / "back.jpg")
    check_result(page)
    assert page.locator("#result-title").inner_text().startswith("The back checks out")
    assert "Certificate of residence" in page.locator("#fact-document-type").inner_text()
    assert "a colour copy of a genuine sheet passes the check too" in page.content()
    page.screenshot(path=str(SHOTS / "result-en.png"), full_page=False)


def test_error_page_says_what_to_do(page, live_server, tmp_path):
    fake = tmp_path / "back.png"
    fake.write_bytes(b"this is not a scan\n" * 100)
    page.goto(live_server.url + "/")
    choose_and_send(page, fake)
    page.locator("#error-code").wait_for()
    assert page.locator("#error-code").inner_text() == "unsupported_format"
    assert "対応していません" in page.locator("#error-message").inner_text()
    assert page.locator('a[href="/scanner"]').count() >= 1
    page.screenshot(path=str(SHOTS / "error-ja.png"), full_page=True)


@pytest.mark.parametrize("page", [{"java_script_enabled": False}], indirect=True)
def test_plain_form_without_javascript(page, live_server, sample):
    page.goto(live_server.url + "/?lang=en")
    choose_and_send(page, sample.files / "back.jpg")
    page.wait_for_url("**/verify")
    check_result(page)
    # the plain zoom: a checkbox that shows the front at full size
    fitted = page.locator("#restored-front").bounding_box()["width"]
    page.focus("#zoom")
    page.keyboard.press("Space")
    assert page.locator("#restored-front").bounding_box()["width"] > fitted * 1.3


@pytest.mark.parametrize("page", [{"locale": "en-US"}], indirect=True)
def test_browser_language_chooses_english(page, live_server):
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Scan of the certificate's back").is_visible()


def test_other_pages(page, live_server):
    for path, name in (("/scanner", "scanner-ja"), ("/privacy?lang=en", "privacy-en"), ("/errors/?lang=ja", "errors-ja")):
        page.goto(live_server.url + path)
        assert page.locator("h1").is_visible()
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 320])
def test_the_header_fits_a_phone_in_both_languages(page, live_server, width):
    """At a phone's width the page never scrolls sideways (WCAG 1.4.10; at 320 px the English header overflowed by
    36 px), the language buttons stay one line high (they stacked into 91 px boxes at 390 px) and the brand name
    is not broken inside a word."""
    page.set_viewport_size({"width": width, "height": 844})
    for lang in ("ja", "en"):
        page.goto(live_server.url + f"/?lang={lang}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for button in page.locator(".lang-switch > *").all():
            assert button.bounding_box()["height"] < 40
        name = page.locator(".brand-name")
        line = float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
        assert name.bounding_box()["height"] < 1.5 * line  # one line
        page.screenshot(path=str(SHOTS / f"header-{lang}-{width}.png"))


def test_the_front_viewer_zooms_pans_and_shows_a_field(page, live_server, sample):
    """Zoom steps and keys, the zoomed image inside the viewport (it ran 283 px past a 900 px window), a pan by
    dragging, and "show on the front" for a signed field, which pans to its box."""
    page.goto(live_server.url + "/?lang=en")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    frame = page.locator(".front-frame")
    assert frame.get_attribute("tabindex") == "0" and frame.get_attribute("aria-label")
    page.click("[data-zoom='2']")
    assert page.locator(".viewer-status").inner_text() == "200 %"
    width = page.evaluate("document.getElementById('restored-front').clientWidth")
    natural = page.evaluate("document.getElementById('restored-front').naturalWidth")
    assert width == 2 * natural
    box = frame.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 900
    before = page.evaluate("document.querySelector('.front-frame').scrollLeft")
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 250, steps=5)
    page.mouse.up()
    assert page.evaluate("document.querySelector('.front-frame').scrollLeft") - before == 200
    frame.focus()
    page.keyboard.press("0")
    assert page.locator(".front-frame.zoomed").count() == 0
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.locator(".front-frame.zoomed").count() == 1
    button = page.locator(".show-field").nth(3)  # the first resident's date of birth
    field = [int(v) for v in button.get_attribute("data-box").split(",")]
    button.click()
    mark, view = page.locator(".viewer-mark").bounding_box(), frame.bounding_box()
    scale = page.evaluate("document.getElementById('restored-front').clientWidth") / natural
    assert abs(mark["width"] - (field[2] - field[0]) * scale) <= 2
    assert view["x"] <= mark["x"] and mark["x"] + mark["width"] <= view["x"] + view["width"]
    assert view["y"] <= mark["y"] and mark["y"] + mark["height"] <= view["y"] + view["height"]
    page.screenshot(path=str(SHOTS / "viewer-field.png"))


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_every_public_page_state_passes_axe(page, live_server, sample, tmp_path, lang, width, height):
    """axe-core over the upload page, the result (fitted, zoomed, a field shown), an altered back, a wrong upload,
    and the other pages, in both languages at desktop and phone sizes: no violation of any impact."""
    import verify

    page.set_viewport_size({"width": width, "height": height})
    found: dict[str, list[str]] = {}

    def check(state: str) -> None:
        found[state] = accessibility_violations(page)

    page.goto(live_server.url + f"/?lang={lang}")
    check("upload")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    check("result")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # facts and dates never widen it
    page.click("[data-zoom='2']")
    check("zoomed")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the frame scrolls, not the page
    page.locator(".show-field").first.click()
    check("field shown")
    for name, data in (("altered", sample.forged_png), ("front", verify.encode_image(sample.front, fmt="jpeg"))):
        path = tmp_path / f"{name}.png"
        path.write_bytes(data)
        page.goto(live_server.url + f"/?lang={lang}")
        choose_and_send(page, path)
        page.locator("#error-code").wait_for()
        check(name)
    for path in ("/scanner", "/privacy", "/errors/", "/errors/altered", "/errors/rate_limited"):
        page.goto(live_server.url + f"{path}?lang={lang}")
        check(path)
    assert {state: v for state, v in found.items() if v} == {}


def test_back_and_forward_keep_the_result_and_it_prints_on_one_page(page, live_server, sample):
    """Back returns to the form with the file still chosen, Forward to the answer (the site keeps nothing of the scan:
    the answer lives in the tab); printed, the result is one A4 page with the verdict, the serial, the time of the
    check in JST and the request id (it printed on 5 pages, without the request id)."""
    import pypdfium2

    page.goto(live_server.url + "/?lang=en")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    request_id = page.locator("dd.print-only").inner_text()
    page.go_back()
    page.locator("#upload-form").wait_for()
    assert "back.png" in page.locator("#chosen").inner_text() and page.locator("#submit").is_enabled()
    page.go_forward()
    check_result(page)

    pdf = pypdfium2.PdfDocument(page.pdf(format="A4"))
    assert len(pdf) == 1
    text = pdf[0].get_textpage().get_text_range()
    joined = "".join(text.split()).replace("\ufffe", "-")  # a long id wraps at a hyphen, which PDFium marks so
    assert SERIAL in joined and request_id in joined and "JST" in text and "The back checks out" in text
    (SHOTS / "result-print.pdf").write_bytes(page.pdf(format="A4"))


def test_what_was_checked_and_what_is_left_stand_beside_the_image(page, live_server, sample):
    """Above the fold at 1366 x 900, next to the front: what this site checked and a checklist for the reader, which
    the keyboard can tick (the list of what to compare began at y = 1356)."""
    page.goto(live_server.url + "/?lang=en")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    checklist = page.locator("#checklist")
    assert checklist.bounding_box()["y"] < 900
    assert "the issuer's signature on the code" in checklist.inner_text()
    assert SERIAL in checklist.inner_text()
    boxes = checklist.locator("input[type=checkbox]")
    assert boxes.count() == 4
    boxes.first.focus()
    page.keyboard.press("Space")
    assert boxes.first.is_checked()
    assert page.locator("#result-title").inner_text() == "The back checks out: now compare the paper front with it"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_phone_sees_the_front_on_its_first_screen(page, live_server, sample, lang):
    """At 390 x 844 the verdict and the navigation are compact enough that the front starts on the first screen with
    room to read it: 440 px of it in Japanese, 315 in English (147 px, and none in English, before)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + f"/?lang={lang}")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    page.evaluate("window.scrollTo(0, 0)")
    assert 844 - page.locator("#restored-front").bounding_box()["y"] >= 280


def test_on_a_slow_link_the_verdict_and_facts_show_before_the_image(page, live_server, sample):
    """On a throttled link the answer's verdict and facts show while its image is still arriving (nothing showed
    until the whole answer had); what the reader does meanwhile survives the image's arrival."""
    page.goto(live_server.url + "/?lang=en")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 300, "downloadThroughput": 50_000, "uploadThroughput": -1})
    choose_and_send(page, sample.files / "back.png")
    page.locator(".front-loading").wait_for(state="visible")
    assert page.locator("#result-title").is_visible()
    assert SERIAL in page.locator("#fact-serial").inner_text()
    assert page.locator("#restored-front").count() == 0
    tick = page.locator("#checklist input[type=checkbox]").first
    tick.check()
    page.screenshot(path=str(SHOTS / "result-arriving.png"))
    check_result(page)
    assert page.locator(".front-loading").count() == 0
    assert tick.is_checked() and tick.evaluate("box => box === document.activeElement")
    page.locator(".viewer-bar button[data-zoom='1']").click()  # the viewer works on the completed page
    assert page.locator(".front-frame.zoomed").count() == 1


def test_the_language_switch_keeps_the_result(page, live_server, sample):
    """The switch on a result page shows the same answer in the other language, ticks and all, without sending
    the scan again (the site keeps nothing of it, so it used to show the empty form), and back again."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(live_server.url + "/?lang=ja")
    choose_and_send(page, sample.files / "back.png")
    check_result(page)
    assert page.locator("html").get_attribute("lang") == "ja" and len(posts) == 1
    page.locator("#checklist input[type=checkbox]").first.check()
    page.click("#switch-en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#result-title").inner_text() == "The back checks out: now compare the paper front with it"
    check_result(page)
    assert page.locator("#checklist input[type=checkbox]").first.is_checked()
    assert page.title().startswith("Verified")
    page.locator(".viewer-bar button[data-zoom='1']").click()  # the viewer works in the new language
    assert page.locator(".front-frame.zoomed").count() == 1
    page.click("#switch-ja")
    assert page.locator("html").get_attribute("lang") == "ja" and "裏面" in page.locator("#result-title").inner_text()
    check_result(page)
    assert len(posts) == 1  # nothing sent again
    page.goto(live_server.url + "/")  # the choice is remembered for the pages that follow
    assert page.locator("html").get_attribute("lang") == "ja"
    page.locator("#switch-en").click()
    page.wait_for_url("**/?lang=en")
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_stack_names_each_certificate_its_sheets_and_the_one_missing(page, live_server, sample, blank_png, tmp_path,
                                                                       lang):
    """A sheet feeder's PDF: sheets 1 and 3 of a certificate of three, another certificate's back and a blank page.
    The page groups the sheets, says which is missing, and each row opens its result with the restored front."""
    sheet1, _, sheet3 = sample.sheet_pngs
    path = tmp_path / "stack.pdf"
    path.write_bytes(stack_pdf(sheet1, sample.back_png, blank_png, sheet3))
    page.goto(live_server.url + f"/?lang={lang}")
    choose_and_send(page, path)
    page.locator("#stack").wait_for()
    missing = {"en": "sheet 2 of 3 was not in the scan", "ja": "3 枚中 2 枚目がスキャンにない"}[lang]
    assert missing in page.locator("#certificates").inner_text()
    assert page.locator("#stack tbody tr").count() == 3 and "3" in page.locator("#skipped").inner_text()
    assert accessibility_violations(page) == []
    page.screenshot(path=str(SHOTS / f"stack-{lang}.png"), full_page=True)
    page.locator("#page-4 summary").click()
    front = page.locator("#page-4 img.stack-front")
    front.wait_for(state="visible")
    assert front.evaluate("img => img.complete && img.naturalWidth > 1000")
    assert {"en": "sheet 3 of 3", "ja": "3 枚中 3 枚目"}[lang] in page.locator("#page-4").inner_text()
    assert accessibility_violations(page) == []
    page.screenshot(path=str(SHOTS / f"stack-open-{lang}.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / f"stack-phone-{lang}.png"), full_page=True)
