"""Finding fonts: a Japanese face (IPA, Noto, Source Han, the system's) for the back's text and the sample front, a
Latin face when none is installed, and Pillow fonts loaded from them once per size.

``CERTVERIFY_CJK_FONT`` names a font file to use instead, or ``none`` to draw without Japanese text.
"""

from __future__ import annotations

import functools
import os
import pathlib

from PIL import ImageFont

__all__ = ["FONT_ENV", "Font", "face_in_use", "find_cjk_font", "load_font"]

FONT_ENV = "CERTVERIFY_CJK_FONT"  # a font file path, or "none" to force the Latin fallback

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
_CJK_FILES = {
    "mincho": (
        "ipam.ttf", "ipaexm.ttf", "ipamp.ttf", "fonts-japanese-mincho.ttf", "NotoSerifCJK-Regular.ttc",
        "NotoSerifCJKjp-Regular.otf", "NotoSerifJP-Regular.otf", "SourceHanSerif-Regular.ttc", "yumin.ttf",
        "msmincho.ttc", "ヒラギノ明朝 ProN.ttc",
    ),
    "gothic": (
        "ipag.ttf", "ipaexg.ttf", "ipagp.ttf", "fonts-japanese-gothic.ttf", "NotoSansCJK-Regular.ttc",
        "NotoSansCJKjp-Regular.otf", "NotoSansJP-Regular.otf", "SourceHanSans-Regular.ttc", "YuGothR.ttc",
        "msgothic.ttc", "ヒラギノ角ゴシック W3.ttc", "DroidSansFallbackFull.ttf",
    ),
}
_LATIN_FILES = ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf")


@functools.lru_cache(maxsize=1)
def _installed_fonts() -> dict[str, pathlib.Path]:
    """Lower-cased file name -> first path found under the usual font directories (sorted walk)."""
    found: dict[str, pathlib.Path] = {}
    for root in _FONT_DIRS:
        base = pathlib.Path(root).expanduser()
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.lower().endswith((".ttf", ".ttc", ".otf")):
                    found.setdefault(name.lower(), pathlib.Path(dirpath) / name)
    return found


def find_cjk_font(style: str = "mincho") -> pathlib.Path | None:
    """A Japanese font file ("mincho" or "gothic", else the other style); env CERTVERIFY_CJK_FONT overrides ("none")."""
    if style not in _CJK_FILES:
        raise ValueError(f"unknown font style {style!r}; use 'mincho' or 'gothic'")
    override = os.environ.get(FONT_ENV, "").strip()
    path: pathlib.Path | None
    if override:
        if override.lower() in ("none", "off", "latin", "0"):
            return None
        path = pathlib.Path(override).expanduser()
        return path if path.is_file() else None
    other = "gothic" if style == "mincho" else "mincho"
    installed = _installed_fonts()
    for name in _CJK_FILES[style] + _CJK_FILES[other]:
        path = installed.get(name.lower())
        if path is not None and path.is_file():
            return path
    return None


def face_in_use() -> str:
    """What the sample front's Japanese text is drawn in, for a benchmark's heading: its figures hold for that face
    (the Latin fallback draws another front, with other figures)."""
    path = find_cjk_font()
    return path.name if path is not None else "the Latin fallback face (no Japanese font found)"


@functools.lru_cache(maxsize=1)
def _latin_font_path() -> str:
    installed = _installed_fonts()
    for name in _LATIN_FILES:
        path = installed.get(name.lower())
        if path is not None:
            return str(path)
    return ""


@functools.lru_cache(maxsize=512)
def load_font(path: str, size: int) -> Font:
    """A font by file path ("" = the Latin fallback face) and pixel size."""
    if path:
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    latin = _latin_font_path()
    if latin:
        return ImageFont.truetype(latin, size, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.load_default(size)
