"""The paper front compared, in real headless Chromium: a person chooses the back and the front, reads which field
differs and the signed text beside it, looks at the fronts side by side, one over the other with the slider and
with the differences drawn, all with the keyboard; axe finds nothing at desktop and phone widths in both languages.
Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import numpy as np
import pytest

from tests.front import alter, household
from tests.support import ARTIFACTS, accessibility_violations

SHOTS = ARTIFACTS / "web"


@pytest.fixture(scope="module")
def files(sample, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A v3 certificate's back and its paper front with one character of a name replaced (tests/front.py)."""
    import verify

    SHOTS.mkdir(parents=True, exist_ok=True)
    h = household(verify.KeyRing.load(sample.keys_dir), 1)
    altered, changed = alter(h, "name", np.random.default_rng(1))
    folder = tmp_path_factory.mktemp("front")
    (folder / "back.png").write_bytes(verify.encode_image(h.cert.back, "png"))
    (folder / "front.jpg").write_bytes(verify.encode_image(altered, "jpeg", quality=92))
    (changed_name,) = changed
    k = int(changed_name.removeprefix("resident").split(".")[0])
    return {"back": folder / "back.png", "front": folder / "front.jpg", "resident": k + 1,
            "signed": h.fields.residents[k].name}


def send_both(page, back, front) -> None:
    for field, path in (("#scan", back), ("#front", front)):
        with page.expect_file_chooser() as chooser:
            page.click(field)
        chooser.value.set_files(str(path))
    page.click("#submit")


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_the_differing_field_is_named_and_the_fronts_compared_with_the_keyboard(page, live_server, files, lang,
                                                                                 width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server.url + f"/?lang={lang}")
    assert page.locator("#front").is_visible()  # the form's second, optional file
    send_both(page, files["back"], files["front"])
    verdict = page.locator("#front-verdict")
    verdict.wait_for()
    named = {"en": f"resident {files['resident']}: name differs from what was issued",
             "ja": f"{files['resident']} 人目の氏名が交付された内容と異なります"}[lang]
    differences = page.locator("#front-differences").inner_text()
    assert named in differences and files["signed"] in differences
    assert {"en": "differs from what was issued", "ja": "交付された内容と異なります"}[lang] in verdict.inner_text()
    paper = page.locator("#front-paper")
    paper.wait_for(state="visible")
    assert paper.evaluate("img => img.complete && img.naturalWidth > 1000")
    assert page.locator("#front-views .front-boxes rect.box-differs").count() == 2  # on both fronts
    assert accessibility_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    suffix = f"{lang}-{'phone' if width < 600 else 'desktop'}"
    page.screenshot(path=str(SHOTS / f"front-differs-{suffix}.png"), full_page=False)
    page.locator("#front-views").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"front-side-by-side-{suffix}.png"), full_page=False)

    # side by side: the two fronts next to each other on a desktop, one under the other on a phone
    restored_box, paper_box = page.locator("#front-restored").bounding_box(), paper.bounding_box()
    if width >= 600:
        assert abs(restored_box["y"] - paper_box["y"]) < 2 and paper_box["x"] > restored_box["x"] + 100
    else:
        assert paper_box["y"] > restored_box["y"] + 100

    # the keyboard: focus the view switch, the arrow key chooses "one over the other"; the slider moves with keys
    page.focus("#front-view-side")
    page.keyboard.press("ArrowRight")
    assert page.locator("#front-view-overlay").is_checked()
    assert page.locator("#front-blend").is_visible()
    restored_box, paper_box = page.locator("#front-restored").bounding_box(), paper.bounding_box()
    assert abs(restored_box["x"] - paper_box["x"]) < 2 and abs(restored_box["y"] - paper_box["y"]) < 2  # stacked
    opacity = "() => getComputedStyle(document.querySelector('.front-paper')).opacity"
    assert page.evaluate(opacity) == "0.5"
    page.focus("#front-blend")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.evaluate(opacity) == "0.8"
    assert accessibility_violations(page) == []
    page.screenshot(path=str(SHOTS / f"front-overlay-{suffix}.png"), full_page=False)

    page.focus("#front-view-overlay")
    page.keyboard.press("ArrowRight")
    assert page.locator("#front-view-diff").is_checked()
    overlay = page.locator("#front-overlay")
    assert overlay.is_visible() and not paper.is_visible()
    assert accessibility_violations(page) == []
    page.screenshot(path=str(SHOTS / f"front-differences-{suffix}.png"), full_page=False)
