"""A realistic, fictitious 住民票の写し (certificate of residence) front page: the sample certificate that
``python -m verify issue`` and ``verify.issue`` draw when given no front, and the tests' and benchmarks' document.

Everything printed is fictitious (見本市, 架空町, ...) and every page carries a large 見本 (SAMPLE) mark. The output is
deterministic: the same fields and dpi give a byte-identical image. ``SampleFront.regions`` names the pixel box of every
filled-in field, so a test can check that an altered field is found where it was changed.

Without a CJK font (or with ``CERTVERIFY_CJK_FONT=none``, or ``latin=True``) the page is drawn with English labels and
romanised data instead, never with tofu boxes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .fonts import Font, find_cjk_font, load_font
from .paper import print_on_ground

__all__ = [
    "MAX_RESIDENTS",
    "Resident",
    "SampleFields",
    "SampleFront",
    "default_fields",
    "protected_regions",
    "protected_texts",
    "render_sample_front",
    "to_wareki",
]

MAX_RESIDENTS = 4  # residents that fit on the one page
A4_MM = (210.0, 297.0)

_INK = (18, 18, 18)
_RED = (206, 34, 42)
_SAMPLE_RED = (226, 52, 52)

Box = tuple[int, int, int, int]


# --------------------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Resident:
    """One person listed on the certificate, every value as printed (dates in the Japanese era)."""

    name: str
    kana: str
    birth: str  # e.g. "昭和55年4月1日"
    sex: str  # 男 / 女
    relation: str  # 世帯主, 妻, 子, ...
    became_resident: str
    settled: str
    notified: str
    previous_address: str


@dataclass(frozen=True)
class SampleFields:
    """Everything filled in on a sample front; all of it fictitious."""

    municipality: str  # e.g. "見本市"; printed in the header, the mayor's title and the seal
    mayor: str
    address: str
    head_of_household: str
    residents: tuple[Resident, ...]
    issued_on: dt.date
    serial: str
    remarks: str


@dataclass
class SampleFront:
    """A rendered front page: RGB pixels and the pixel box (x0, y0, x1, y1; x1, y1 exclusive) of each field."""

    image: np.ndarray  # H x W x 3, uint8, RGB
    regions: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    # The ink of each field's text: what a content-bound back binds, clear of the table's rules.
    text_boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # what each field says, as printed (format v3 carries it)
    latin: bool = False  # drawn with the Latin fallback (no CJK font)
    dpi: int = 300


# --------------------------------------------------------------------------------------------------------------------
# Fictitious households: every Japanese string paired with its romanisation (used by the Latin fallback)

_P = tuple[str, str]


def _res(name: _P, kana: _P, birth: str, sex: str, relation: str, became: str, settled: str, notified: str,
         previous: _P) -> tuple:
    return (name, kana, birth, sex, relation, became, settled, notified, previous)


_MIHON_PREV = ("架空県架空市例示町五丁目6番7号", "5-6-7 Reiji-cho, Kaku-shi, Kaku-ken")
_REIJI_PREV = ("架空県例示市見本台一丁目1番1号", "1-1-1 Mihondai, Reiji-shi, Kaku-ken")
_KAKU_PREV = ("見本県見本市本町三丁目4番5号", "3-4-5 Honcho, Mihon-shi, Mihon-ken")
_WIFE_PREV = ("見本県見本市架空町九丁目8番7号", "9-8-7 Kaku-cho, Mihon-shi, Mihon-ken")
_NONE: _P = ("", "")

_HOUSEHOLDS: tuple[dict, ...] = (
    {
        "municipality": ("見本市", "Mihon-shi"),
        "mayor": ("見本　守", "MIHON Mamoru"),
        "address": ("見本県見本市架空町一丁目2番3号", "1-2-3 Kaku-cho, Mihon-shi, Mihon-ken"),
        "head": ("見本　太郎", "MIHON Taro"),
        "remarks": _NONE,
        "residents": (
            _res(("見本　太郎", "MIHON Taro"), ("みほん　たろう", "mihon taro"), "昭和55年4月1日", "男", "世帯主",
                 "令和2年4月1日", "令和2年4月1日", "令和2年4月3日", _MIHON_PREV),
            _res(("見本　花子", "MIHON Hanako"), ("みほん　はなこ", "mihon hanako"), "昭和57年8月15日", "女", "妻",
                 "令和2年4月1日", "令和2年4月1日", "令和2年4月3日", _MIHON_PREV),
            _res(("見本　一郎", "MIHON Ichiro"), ("みほん　いちろう", "mihon ichiro"), "平成22年6月10日", "男", "子",
                 "令和2年4月1日", "令和2年4月1日", "令和2年4月3日", _MIHON_PREV),
        ),
    },
    {
        "municipality": ("架空町", "Kaku-machi"),
        "mayor": ("架空　正直", "KAKU Masanao"),
        "address": ("見本県見本郡架空町大字例示100番地", "100 Oaza Reiji, Kaku-machi, Mihon-gun, Mihon-ken"),
        "head": ("架空　次郎", "KAKU Jiro"),
        "remarks": ("平成30年10月1日　見本県見本市本町三丁目4番5号から転入",
                    "Moved in on 2018-10-01 from 3-4-5 Honcho, Mihon-shi, Mihon-ken"),
        "residents": (
            _res(("架空　次郎", "KAKU Jiro"), ("かくう　じろう", "kakuu jiro"), "平成3年11月23日", "男", "世帯主",
                 "平成30年10月1日", "平成30年10月1日", "平成30年10月5日", _KAKU_PREV),
        ),
    },
    {
        "municipality": ("例示市", "Reiji-shi"),
        "mayor": ("例示　公子", "REIJI Kimiko"),
        "address": ("架空県例示市見本台二丁目8番地の9　架空ハイツ101号",
                    "Kaku Heights 101, 2-8-9 Mihondai, Reiji-shi, Kaku-ken"),
        "head": ("試験　誠", "SHIKEN Makoto"),
        "remarks": _NONE,
        "residents": (
            _res(("試験　誠", "SHIKEN Makoto"), ("しけん　まこと", "shiken makoto"), "昭和48年2月14日", "男", "世帯主",
                 "平成15年3月20日", "平成15年3月20日", "平成15年3月25日", _REIJI_PREV),
            _res(("試験　さくら", "SHIKEN Sakura"), ("しけん　さくら", "shiken sakura"), "平成14年5月5日", "女", "子",
                 "平成15年3月20日", "平成15年3月20日", "平成15年3月25日", _REIJI_PREV),
        ),
    },
    {
        "municipality": ("架空村", "Kaku-mura"),
        "mayor": ("架空　一", "KAKU Hajime"),
        "address": ("架空県架空郡架空村大字見本字例示1234番地", "1234 Aza Reiji, Oaza Mihon, Kaku-mura, Kaku-gun, Kaku-ken"),
        "head": ("例示　勇", "REIJI Isamu"),
        "remarks": _NONE,
        "residents": (
            _res(("例示　勇", "REIJI Isamu"), ("れいじ　いさむ", "reiji isamu"), "昭和40年7月7日", "男", "世帯主",
                 "昭和40年7月7日", "昭和40年7月7日", "昭和40年7月10日", _NONE),
            _res(("例示　和子", "REIJI Kazuko"), ("れいじ　かずこ", "reiji kazuko"), "昭和43年3月3日", "女", "妻",
                 "平成4年6月1日", "平成4年6月1日", "平成4年6月1日", _WIFE_PREV),
            _res(("例示　健太", "REIJI Kenta"), ("れいじ　けんた", "reiji kenta"), "平成6年9月30日", "男", "子",
                 "平成6年9月30日", "平成6年9月30日", "平成6年10月5日", _NONE),
            _res(("例示　美咲", "REIJI Misaki"), ("れいじ　みさき", "reiji misaki"), "平成9年12月24日", "女", "子",
                 "平成9年12月24日", "平成9年12月24日", "平成9年12月26日", _NONE),
        ),
    },
)

_WORDS: dict[str, str] = {
    "男": "M", "女": "F", "世帯主": "Head", "本人": "Self", "妻": "Wife", "夫": "Husband", "子": "Child",
    "父": "Father", "母": "Mother", "長男": "Son", "長女": "Daughter",
}


def _roman_table() -> dict[str, str]:
    table = dict(_WORDS)
    for hh in _HOUSEHOLDS:
        for key in ("municipality", "mayor", "address", "head", "remarks"):
            table[hh[key][0]] = hh[key][1]
        for res in hh["residents"]:
            for value in res:
                if isinstance(value, tuple):
                    table[value[0]] = value[1]
    return table


_ROMAN = _roman_table()


# The fields whose content a content-bound back binds (the last part of a region's name): who, where and when born.
# The readings (kana) are left out: printed 8 px high on the restored front, a phone photo's blur moves them as much
# as a changed character would.
PROTECTED_FIELDS = ("address", "head_of_household", "name", "birth")


def protected_regions(front: SampleFront) -> dict[str, tuple[int, int, int, int]]:
    """The text boxes of the personal fields: what an issuer of this form names for a content-bound back."""
    return {k: v for k, v in front.text_boxes.items() if k.split(".")[-1] in PROTECTED_FIELDS}


def protected_texts(front: SampleFront) -> dict[str, str]:
    """What the personal fields say, as printed: the text a format v3 back carries for each protected region."""
    return {k: front.texts[k] for k in protected_regions(front)}


def default_fields(serial: str = "SAMPLE-0001", issued_on: dt.date | None = None, variant: int = 0) -> SampleFields:
    """A fictitious household (``variant`` picks one of a few, modulo their number); deterministic."""
    hh = _HOUSEHOLDS[variant % len(_HOUSEHOLDS)]
    residents = tuple(
        Resident(name=r[0][0], kana=r[1][0], birth=r[2], sex=r[3], relation=r[4], became_resident=r[5], settled=r[6],
                 notified=r[7], previous_address=r[8][0])
        for r in hh["residents"]
    )
    return SampleFields(
        municipality=hh["municipality"][0],
        mayor=hh["mayor"][0],
        address=hh["address"][0],
        head_of_household=hh["head"][0],
        residents=residents,
        issued_on=issued_on if issued_on is not None else dt.date(2026, 4, 1),
        serial=serial,
        remarks=hh["remarks"][0],
    )


# --------------------------------------------------------------------------------------------------------------------
# Eras and romanisation

_ERAS: tuple[tuple[str, str, dt.date], ...] = (
    ("令和", "Reiwa", dt.date(2019, 5, 1)),
    ("平成", "Heisei", dt.date(1989, 1, 8)),
    ("昭和", "Showa", dt.date(1926, 12, 25)),
    ("大正", "Taisho", dt.date(1912, 7, 30)),
    ("明治", "Meiji", dt.date(1868, 1, 25)),
)
_ERA_DATE = re.compile(r"(明治|大正|昭和|平成|令和)\s*(元|\d+)\s*年\s*(\d+)\s*月\s*(\d+)\s*日")


def to_wareki(day: dt.date) -> str:
    """The date in the Japanese era as printed on certificates, e.g. 2026-04-01 -> 令和8年4月1日."""
    for name, _, start in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def _latin_date(day: dt.date) -> str:
    for _, era, start in _ERAS:
        if day >= start:
            return f"{day.isoformat()} ({era} {day.year - start.year + 1})"
    return day.isoformat()


_KANA = dict(zip(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞ"
    "だぢづでどばびぶべぼぱぴぷぺぽぁぃぅぇぉ",
    ("a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo ya yu yo "
     "ra ri ru re ro wa wo n ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po a i u e o").split(),
    strict=True,
))


def _kana_to_romaji(text: str) -> str:
    out: list[str] = []
    double = False
    for ch in text:
        if "\u30a1" <= ch <= "\u30f6":  # katakana -> hiragana
            ch = chr(ord(ch) - 0x60)
        if ch in "ゃゅょ" and out and out[-1].endswith("i"):
            prev = out.pop()
            vowel = {"ゃ": "a", "ゅ": "u", "ょ": "o"}[ch]
            out.append(prev[:-1] + vowel if prev in ("shi", "chi", "ji") else prev[:-1] + "y" + vowel)
        elif ch == "っ":
            double = True
            continue
        elif ch == "ー":
            out.append(out[-1][-1] if out else "-")
        elif ch in _KANA:
            syl = _KANA[ch]
            out.append(syl[0] + syl if double and syl[0] not in "aiueon" else syl)
        else:
            out.append(ch)
        double = False
    return "".join(out)


def _latin(text: str) -> str:
    """Printable ASCII for the Latin fallback: known fictitious data romanised, era dates converted."""
    if text in _ROMAN:
        return _ROMAN[text]
    text = unicodedata.normalize("NFKC", text)
    if text in _ROMAN:
        return _ROMAN[text]

    def era(m: re.Match[str]) -> str:
        start = next(s for n, _, s in _ERAS if n == m.group(1))
        year = start.year + (1 if m.group(2) == "元" else int(m.group(2))) - 1
        try:
            return _latin_date(dt.date(year, int(m.group(3)), int(m.group(4))))
        except ValueError:
            return m.group(0)

    text = _ERA_DATE.sub(era, text)
    text = _kana_to_romaji(text)
    return "".join(ch if " " <= ch <= "~" else f"<U+{ord(ch):04X}>" for ch in text)


# --------------------------------------------------------------------------------------------------------------------
# Page drawing


def _width(text: str, font: Font, spacing: float) -> float:
    if not spacing or len(text) < 2:
        return font.getlength(text)
    return sum(font.getlength(ch) for ch in text) + spacing * (len(text) - 1)


def _draw_line(draw: ImageDraw.ImageDraw, x: float, cy: float, text: str, font: Font, fill: int | tuple,
               spacing: float) -> None:
    if not spacing:
        draw.text((x, cy), text, fill=fill, font=font, anchor="lm")
        return
    for ch in text:
        draw.text((x, cy), ch, fill=fill, font=font, anchor="lm")
        x += font.getlength(ch) + spacing


class _Page:
    """Drawing state for one page: the image, faces, scale and the field regions recorded so far."""

    def __init__(self, dpi: int, mincho: str, gothic: str, latin: bool) -> None:
        self.dpi = dpi
        self.latin = latin
        self.mincho = mincho  # "" selects the Latin face
        self.gothic = gothic
        self.width = round(A4_MM[0] * dpi / 25.4)
        self.height = round(A4_MM[1] * dpi / 25.4)
        self.image = Image.new("RGB", (self.width, self.height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.regions: dict[str, Box] = {}
        self.text_boxes: dict[str, Box] = {}
        self.texts: dict[str, str] = {}

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> Box:
        return (self.px(x0), self.px(y0), self.px(x1), self.px(y1))

    def t(self, ja: str, en: str | None = None) -> str:
        """The text to print: Japanese, or the English label / romanised value in the Latin fallback."""
        if not self.latin:
            return ja
        return en if en is not None else _latin(ja)

    def fit(self, face: str, text: str, size: int, max_w: float, max_h: float, spacing: float = 0.0) -> Font:
        """The face at ``size`` px, shrunk until ``text`` fits in max_w x max_h."""
        size = max(4, min(size, int(max_h)))
        font = load_font(face, size)
        width = _width(text, font, spacing * size)
        if width <= max_w or not text:
            return font
        size = max(4, int(size * max_w / width))
        while size > 4:
            font = load_font(face, size)
            if _width(text, font, spacing * size) <= max_w:
                break
            size -= 1
        return load_font(face, size)

    def text(self, box: Box, text: str, size_pt: float, *, face: str | None = None, align: str = "left",
             key: str | None = None, color: tuple[int, int, int] = _INK, spacing: float = 0.0,
             pad_mm: float = 1.2) -> None:
        """Print ``text`` (one or more lines) inside ``box``; with ``key`` it is clipped to the box, recorded as a region."""
        x0, y0, x1, y1 = box
        face = self.mincho if face is None else face
        pad = self.px(pad_mm)
        lines = text.split("\n") if text else [""]
        line_h = (y1 - y0) / len(lines)
        size_px = round(size_pt * self.dpi / 72)
        fill: int | tuple[int, int, int]
        if key is not None:
            target = Image.new("L", (x1 - x0, y1 - y0), 0)
            draw, ox, oy, fill = ImageDraw.Draw(target), 0, 0, 255
        else:
            draw, ox, oy, fill = self.draw, x0, y0, color
        for i, line in enumerate(lines):
            if not line:
                continue
            font = self.fit(face, line, size_px, x1 - x0 - 2 * pad, line_h * 0.92, spacing)
            sp = spacing * getattr(font, "size", size_px)
            width = _width(line, font, sp)
            if align == "justify" and len(line) > 1:  # 均等割付: spread the characters over the box
                sp += (x1 - x0 - 2 * pad - width) / (len(line) - 1)
                width = x1 - x0 - 2 * pad
            if align == "center":
                tx = (x1 - x0 - width) / 2
            elif align == "right":
                tx = x1 - x0 - pad - width
            else:
                tx = pad
            _draw_line(draw, ox + tx, oy + line_h * (i + 0.5), line, font, fill, sp)
        if key is not None:
            self.image.paste(color, box, target)
            self.regions[key] = box
            self.texts[key] = text
            ink = target.getbbox()
            if ink:
                self.text_boxes[key] = (x0 + ink[0], y0 + ink[1], x0 + ink[2], y0 + ink[3])

    def hline(self, x0: float, x1: float, y: float, width: int) -> None:
        top = self.px(y) - width // 2
        self.draw.rectangle((self.px(x0), top, self.px(x1), top + width - 1), fill=_INK)

    def vline(self, x: float, y0: float, y1: float, width: int) -> None:
        left = self.px(x) - width // 2
        self.draw.rectangle((left, self.px(y0), left + width - 1, self.px(y1)), fill=_INK)


# Table geometry, in millimetres
_X0, _X1 = 15.0, 195.0
_TABLE_TOP = 38.0
_HOUSE_ROW = 9.0
_NAME_ROW = 12.0
_ROW = 7.5
_REMARKS_ROW = 16.0
_LABEL_PT = 8.5
_VALUE_PT = 10.5


def _cell_box(page: _Page, x0: float, y0: float, x1: float, y1: float) -> Box:
    """The inside of a ruled cell, clear of its rules."""
    inset = max(2, page.px(0.45))
    return (page.px(x0) + inset, page.px(y0) + inset, page.px(x1) - inset + 1, page.px(y1) - inset + 1)


def _row(page: _Page, y0: float, y1: float, cells: Sequence[tuple], thin: int) -> None:
    """One table row: cells are ("L", width, ja, en) labels, ("F", width, key, text) fields, ("S", width, ja, en)."""
    x = _X0
    for i, cell in enumerate(cells):
        kind, width = cell[0], cell[1]
        if i:
            page.vline(x, y0, y1, thin)
        box = _cell_box(page, x, y0, x + width, y1)
        if kind == "L":
            page.text(box, page.t(cell[2], cell[3]), _LABEL_PT, align="center", pad_mm=0.8)
        elif kind == "S":
            page.text(box, page.t(cell[2], cell[3]), _VALUE_PT)
        else:
            page.text(box, page.t(cell[3]), _VALUE_PT, key=cell[2])
        x += width
    page.hline(_X0, _X1, y1, thin)


def _name_row(page: _Page, y0: float, y1: float, idx: int, res: Resident, thin: int) -> None:
    """The 氏名 row: the reading above the name, then 生年月日, 性別, 続柄."""
    split = y0 + (y1 - y0) * 0.38
    page.text(_cell_box(page, _X0, y0, _X0 + 20, split), page.t("ふりがな", "Reading"), 7, align="center", pad_mm=0.8)
    page.text(_cell_box(page, _X0, split, _X0 + 20, y1), page.t("氏名", "Name"), _LABEL_PT, align="center",
              pad_mm=0.8)
    page.vline(_X0 + 20, y0, y1, thin)
    page.text(_cell_box(page, _X0 + 20, y0, _X0 + 78, split), page.t(res.kana), 7.5, key=f"resident{idx}.kana")
    page.text(_cell_box(page, _X0 + 20, split, _X0 + 78, y1), page.t(res.name), 12, key=f"resident{idx}.name",
              spacing=0.15 if not page.latin else 0.0)
    cells = (
        ("L", 18, "生年月日", "Date of\nbirth"), ("F", 38, f"resident{idx}.birth", res.birth),
        ("L", 12, "性別", "Sex"), ("F", 10, f"resident{idx}.sex", res.sex),
        ("L", 12, "続柄", "Relation"), ("F", 12, f"resident{idx}.relation", res.relation),
    )
    x = _X0 + 78
    for kind, width, a, b in cells:
        page.vline(x, y0, y1, thin)
        box = _cell_box(page, x, y0, x + width, y1)
        if kind == "L":
            page.text(box, page.t(a, b), _LABEL_PT, align="center", pad_mm=0.8)
        else:
            page.text(box, page.t(b), _VALUE_PT, key=a, pad_mm=0.9)
        x += width
    page.hline(_X0, _X1, y1, thin)


def _table(page: _Page, fields: SampleFields) -> float:
    """The ruled table; returns its bottom edge in mm."""
    thin = max(1, page.px(0.18))
    thick = max(2, page.px(0.45))
    y = _TABLE_TOP
    _row(page, y, y + _HOUSE_ROW, (("L", 20, "住所", "Address"), ("F", 160, "address", fields.address)), thin)
    y += _HOUSE_ROW
    _row(page, y, y + _HOUSE_ROW, (("L", 20, "世帯主", "Head of\nhousehold"),
                                   ("F", 160, "head_of_household", fields.head_of_household)), thin)
    y += _HOUSE_ROW
    for idx, res in enumerate(fields.residents):
        page.hline(_X0, _X1, y, thick)
        _name_row(page, y, y + _NAME_ROW, idx, res, thin)
        y += _NAME_ROW
        _row(page, y, y + _ROW, (
            ("L", 30, "住民となった年月日", "Became resident"), ("F", 34, f"resident{idx}.became_resident", res.became_resident),
            ("L", 30, "住所を定めた年月日", "Settled at address"), ("F", 34, f"resident{idx}.settled", res.settled),
            ("L", 14, "届出日", "Notified"), ("F", 38, f"resident{idx}.notified", res.notified),
        ), thin)
        y += _ROW
        _row(page, y, y + _ROW, (("L", 20, "前住所", "Previous\naddress"),
                                 ("F", 160, f"resident{idx}.previous_address", res.previous_address)), thin)
        y += _ROW
        _row(page, y, y + _ROW, (
            ("L", 30, "本籍・筆頭者", "Domicile/head"), ("S", 60, "省略", "(omitted)"),
            ("L", 30, "個人番号", "Individual no."), ("S", 60, "省略", "(omitted)"),
        ), thin)
        y += _ROW
    page.hline(_X0, _X1, y, thick)
    _row(page, y, y + _REMARKS_ROW, (("L", 20, "備考", "Remarks"), ("F", 160, "remarks", fields.remarks)), thin)
    y += _REMARKS_ROW
    x0, y0, x1, y1 = page.box(_X0, _TABLE_TOP, _X1, y)
    half = thick // 2
    page.draw.rectangle((x0 - half, y0 - half, x1 - half + thick - 1, y1 - half + thick - 1), outline=_INK,
                        width=thick)
    return y


def _header(page: _Page, fields: SampleFields, note: str) -> None:
    """Title, page number, municipality and the boxed 見本 stamp."""
    page.text(page.box(150, 7, _X1, 13), "1/1", 9, align="right", pad_mm=0)
    if page.latin:
        page.text(page.box(50, 12, 160, 24), "CERTIFICATE OF RESIDENCE (SAMPLE)", 15, align="center")
        page.text(page.box(_X0, 27, 125, 35), note, 9, color=_RED, pad_mm=0)
    else:
        page.text(page.box(55, 11, 155, 26), "住民票の写し", 22, align="center", spacing=0.6)
    page.text(page.box(130, 27, _X1, 35), page.t(fields.municipality), 12, align="right", key="municipality",
              pad_mm=0)
    # boxed sample stamp, top left
    x0, y0, x1, y1 = page.box(_X0, 8, _X0 + 30, 24)
    page.draw.rectangle((x0, y0, x1, y1), outline=_SAMPLE_RED, width=max(2, page.px(0.8)))
    if page.latin:
        page.text(page.box(_X0, 9, _X0 + 30, 23), "SAMPLE", 14, face=page.gothic, align="center", color=_SAMPLE_RED)
    else:
        page.text(page.box(_X0, 8.5, _X0 + 30, 19), "見本", 20, face=page.gothic, align="center", color=_SAMPLE_RED,
                  spacing=0.3)
        page.text(page.box(_X0, 18.5, _X0 + 30, 23.5), "SAMPLE", 7, face=page.gothic, align="center",
                  color=_SAMPLE_RED, spacing=0.4)


def _footer(page: _Page, fields: SampleFields, table_bottom: float) -> None:
    """以下余白, certification, date, mayor, kiosk line with the serial, and the sample notice."""
    page.text(page.box(_X0, table_bottom + 1.5, _X1, table_bottom + 7.5), page.t("以下余白", "(nothing follows)"), 9,
              align="center")
    page.text(page.box(25, 220, _X1, 229), page.t("この写しは、住民票の原本と相違ないことを証明する。",
                                                  "This copy is certified to be identical to the original record."),
              11, pad_mm=0)
    issued = _latin_date(fields.issued_on) if page.latin else to_wareki(fields.issued_on)
    page.text(page.box(25, 231, 100, 239), issued, 11, key="issued_on", pad_mm=0)
    title = f"Mayor of {_latin(fields.municipality)}" if page.latin else f"{fields.municipality}長"
    if page.latin:
        page.text(page.box(40, 242, 110, 252), title, 13, align="right", key="mayor_title", pad_mm=0)
        page.text(page.box(113, 242, 158, 252), page.t(fields.mayor), 14, key="mayor", pad_mm=0)
    else:  # the name in 均等割付, its end under the seal
        page.text(page.box(60, 242, 120, 252), title, 13, align="right", key="mayor_title", pad_mm=0, spacing=0.2)
        page.text(page.box(125, 242, 152, 252), fields.mayor, 14, key="mayor", pad_mm=0, align="justify")
    page.text(page.box(25, 264, _X1, 271),
              page.t("この証明書は、コンビニエンスストア等に設置された多機能端末で交付したものです。",
                     "This certificate was issued at a convenience-store multifunction kiosk."), 9, pad_mm=0)
    page.text(page.box(25, 272, 50, 279), page.t("発行番号", "Issue no."), 9, pad_mm=0)
    page.text(page.box(50, 272, 130, 279), page.t(fields.serial), 10, key="serial", pad_mm=0, face=page.gothic)
    page.text(page.box(_X0, 283, _X1, 290),
              page.t("※ これは見本です。記載の人物・住所・番号はすべて架空のもので、証明書としての効力はありません。",
                     "* SAMPLE ONLY: all persons, addresses and numbers are fictitious; this is not a certificate."),
              8.5, align="center", color=_SAMPLE_RED, pad_mm=0)


def _seal(page: _Page, fields: SampleFields, center_mm: tuple[float, float], size_mm: float = 25.0) -> None:
    """A red square official seal (公印) with grainy, slightly uneven stamp ink, multiplied onto the page."""
    side = page.px(size_mm)
    margin = page.px(1.5)
    canvas = Image.new("L", (side + 2 * margin, side + 2 * margin), 0)
    draw = ImageDraw.Draw(canvas)
    border = max(2, page.px(1.4))
    draw.rectangle((margin, margin, margin + side - 1, margin + side - 1), outline=255, width=border)
    gap = max(1, page.px(0.9))
    inner = side - 2 * (border + gap)
    origin = margin + border + gap
    stroke = max(1, page.px(0.25))
    if page.latin:
        lines = [_latin(fields.municipality).upper(), "MAYOR", "SEAL"]
        cells = [(0, i, 1, 3, text) for i, text in enumerate(lines)]
        cols, rows = 1, 3
    else:
        chars = f"{fields.municipality}長之印"
        rows = 2 if len(chars) <= 6 else 3
        cols = -(-len(chars) // rows)
        # seal order: columns from the right, each read top to bottom
        cells = [(cols - 1 - i // rows, i % rows, cols, rows, ch) for i, ch in enumerate(chars)]
    cell_w, cell_h = inner / cols, inner / rows
    for col, row, _, _, text in cells:
        w, h = max(4, int(cell_w * 0.94)), max(4, int(cell_h * 0.94))
        font = page.fit(page.mincho, text, h, w * (1.0 if page.latin else 4.0), h)
        # Pillow annotates float for fractional strokes; a whole-pixel stroke gives a whole-pixel box.
        bbox = cast(tuple[int, int, int, int], font.getbbox(text, stroke_width=stroke))
        glyph = Image.new("L", (max(1, bbox[2] - bbox[0]), max(1, bbox[3] - bbox[1])), 0)
        ImageDraw.Draw(glyph).text((-bbox[0], -bbox[1]), text, fill=255, font=font, stroke_width=stroke,
                                   stroke_fill=255)
        if page.latin:  # keep the aspect of Latin lines; stretch CJK glyphs to the tall seal cells
            w, h = min(w, round(glyph.width * h / glyph.height)), min(h, round(glyph.height * w / glyph.width))
        glyph = glyph.resize((w, h), Image.Resampling.BICUBIC)
        canvas.paste(255, (round(origin + col * cell_w + (cell_w - w) / 2), round(origin + row * cell_h + (cell_h - h) / 2)),
                     glyph)
    canvas = canvas.rotate(-2.2, resample=Image.Resampling.BICUBIC)
    blurred = np.asarray(canvas.filter(ImageFilter.GaussianBlur(max(0.6, page.px(0.12)))), dtype=np.float32) / 255

    rng = np.random.default_rng(zlib.crc32(f"seal|{fields.municipality}".encode()))
    n = canvas.width
    coarse_src = (rng.random((12, 12)) * 255).astype(np.uint8)
    coarse = np.asarray(Image.fromarray(coarse_src).resize((n, n), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    fine = rng.random((n, n), dtype=np.float32)
    alpha = np.clip((blurred - 0.42 + 0.30 * (coarse - 0.5) + 0.20 * (fine - 0.5)) * 3.2, 0, 1)
    alpha *= 0.70 + 0.30 * coarse
    alpha[fine < 0.035] *= 0.35  # ink speckle
    layer = np.empty((n, n, 3), dtype=np.uint8)
    for c, value in enumerate(_RED):
        layer[..., c] = np.round(255 - alpha * (255 - value)).astype(np.uint8)

    cx, cy = page.px(center_mm[0]), page.px(center_mm[1])
    x0, y0 = cx - n // 2, cy - n // 2
    box = (x0, y0, x0 + n, y0 + n)
    page.image.paste(ImageChops.multiply(page.image.crop(box), Image.fromarray(layer, "RGB")), box)
    page.regions["seal"] = box


@functools.lru_cache(maxsize=4)
def _sample_mark_mask(dpi: int, face: str, word: str) -> Image.Image:
    """Coverage of the diagonal mark: hollow letters (outline 110/255) over a faint fill (34/255), tilted 33 degrees."""
    size = round((26 if word.isascii() else 70) * dpi / 25.4)
    font = load_font(face, size)
    stroke = max(2, round(dpi / 25.4))
    # Pillow annotates float for fractional strokes; a whole-pixel stroke gives a whole-pixel box.
    bbox = cast(tuple[int, int, int, int], font.getbbox(word, stroke_width=stroke))
    pad = stroke * 2
    mask = Image.new("L", (bbox[2] - bbox[0] + 2 * pad, bbox[3] - bbox[1] + 2 * pad), 0)
    ImageDraw.Draw(mask).text((pad - bbox[0], pad - bbox[1]), word, fill=34, font=font, stroke_width=stroke,
                              stroke_fill=110)
    return mask.rotate(33, resample=Image.Resampling.BICUBIC, expand=True)


def _sample_mark(page: _Page) -> None:
    """The large pale-red diagonal 見本 (SAMPLE) across the page."""
    mask = _sample_mark_mask(page.dpi, page.gothic, "SAMPLE" if page.latin else "見本")
    x0 = (page.width - mask.width) // 2
    y0 = round(page.height * 0.47) - mask.height // 2
    box = (x0, y0, x0 + mask.width, y0 + mask.height)
    crop = page.image.crop(box)
    page.image.paste(Image.composite(Image.new("RGB", crop.size, _SAMPLE_RED), crop, mask), box)


def render_sample_front(fields: SampleFields | None = None, *, dpi: int = 300, latin: bool = False,
                        pattern: bool = False) -> SampleFront:
    """Render the fictitious front page (A4 portrait at ``dpi``; ``latin=True`` forces the no-CJK-font fallback):
    the document as the municipality issues it, or with ``pattern=True`` as the kiosk prints it, on the background
    security pattern (``print_on_ground``)."""
    if fields is None:
        fields = default_fields()
    if not 1 <= len(fields.residents) <= MAX_RESIDENTS:
        raise ValueError(f"a sample page lists 1 to {MAX_RESIDENTS} residents, got {len(fields.residents)}")
    if not 72 <= dpi <= 1200:
        raise ValueError(f"dpi must be between 72 and 1200, got {dpi}")
    mincho = None if latin else find_cjk_font("mincho")
    if mincho is None:
        note = "CJK font disabled: Latin fallback" if latin else "CJK font not found: Latin fallback"
        page = _Page(dpi, "", "", latin=True)
    else:
        gothic = find_cjk_font("gothic") or mincho
        note = ""
        page = _Page(dpi, str(mincho), str(gothic), latin=False)
    _header(page, fields, note)
    bottom = _table(page, fields)
    _footer(page, fields, bottom)
    _seal(page, fields, (161.5, 247.0))
    _sample_mark(page)
    image = np.array(page.image, dtype=np.uint8)
    if pattern:
        image = print_on_ground(image, latin=page.latin)
    return SampleFront(image=image, regions=dict(page.regions), text_boxes=dict(page.text_boxes),
                       texts=dict(page.texts), latin=page.latin, dpi=dpi)

