"""Font discovery: a Japanese face where one is installed, the override, and the Latin face without one."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from verify.fonts import FONT_ENV, face_in_use, find_cjk_font, load_font

IPA_FONTS = (
    pathlib.Path("/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf"),
    pathlib.Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    pathlib.Path("/usr/share/fonts/truetype/fonts-japanese-mincho.ttf"),
)


@pytest.fixture(autouse=True)
def _no_font_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FONT_ENV, raising=False)


def _ink(path: str, text: str) -> np.ndarray:
    """Where ``text`` puts ink, drawn at 48 px with the face at ``path`` ("" for the Latin face)."""
    canvas = Image.new("L", (160, 80), 0)
    ImageDraw.Draw(canvas).text((8, 40), text, fill=255, font=load_font(path, 48), anchor="lm")
    return np.asarray(canvas) > 127


def test_find_cjk_font_when_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    if any(p.is_file() for p in IPA_FONTS):
        for style in ("mincho", "gothic"):
            found = find_cjk_font(style)
            assert found is not None and found.is_file()
    custom = tmp_path / "custom.ttf"
    custom.write_bytes(b"not really a font")
    monkeypatch.setenv(FONT_ENV, str(custom))
    assert find_cjk_font() == custom
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "missing.ttf"))
    assert find_cjk_font() is None
    monkeypatch.setenv(FONT_ENV, "none")
    assert find_cjk_font("gothic") is None
    with pytest.raises(ValueError):
        find_cjk_font("brush")


def test_the_japanese_face_draws_each_character_as_itself() -> None:
    path = find_cjk_font("gothic")
    if path is None:
        pytest.skip("no Japanese font installed")
    first, second = _ink(str(path), "見"), _ink(str(path), "本")
    assert first.sum() > 200 and second.sum() > 200 and (first != second).sum() > 200  # glyphs, not one tofu box


def test_the_latin_face_draws_text() -> None:
    assert _ink("", "SAMPLE").sum() > 200


def test_a_benchmark_says_which_face_drew_the_sample_front(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: pathlib.Path) -> None:
    """The benches' headings name the face, since the sample front and every figure change with it."""
    custom = tmp_path / "ipam.ttf"
    custom.write_bytes(b"not really a font")
    monkeypatch.setenv(FONT_ENV, str(custom))
    assert face_in_use() == "ipam.ttf"
    monkeypatch.setenv(FONT_ENV, "none")
    assert face_in_use().startswith("the Latin fallback face")
