"""The fictitious 住民票の写し sample front: size, determinism, variants, seal, field regions, Latin fallback."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from verify.fonts import FONT_ENV, find_cjk_font
from verify.paper import print_on_ground
from verify.sample import (
    MAX_RESIDENTS,
    SampleFields,
    SampleFront,
    default_fields,
    render_sample_front,
    to_wareki,
)

MARGIN = 3  # pixels of slack around a region for anti-aliasing


@pytest.fixture(autouse=True)
def _no_font_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FONT_ENV, raising=False)


@pytest.fixture(scope="module")
def front() -> SampleFront:
    return render_sample_front()


def _with_resident(fields: SampleFields, index: int, **changes: str) -> SampleFields:
    residents = list(fields.residents)
    residents[index] = dataclasses.replace(residents[index], **changes)
    return dataclasses.replace(fields, residents=tuple(residents))


def _changes_outside(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """(changed pixels in all, changed pixels outside box grown by MARGIN)."""
    changed = np.any(a != b, axis=2)
    x0, y0, x1, y1 = box
    inside = np.zeros_like(changed)
    inside[max(0, y0 - MARGIN):y1 + MARGIN, max(0, x0 - MARGIN):x1 + MARGIN] = True
    return int(changed.sum()), int((changed & ~inside).sum())


@pytest.mark.parametrize(("dpi", "shape"), [(300, (3508, 2480, 3)), (150, (1754, 1240, 3))])
def test_a4_size_at_dpi(dpi: int, shape: tuple[int, int, int]) -> None:
    out = render_sample_front(dpi=dpi)
    assert out.image.shape == shape
    assert out.image.dtype == np.uint8
    assert out.dpi == dpi


def test_same_fields_give_identical_bytes(front: SampleFront) -> None:
    again = render_sample_front(default_fields())
    assert again.image.tobytes() == front.image.tobytes()
    assert again.regions == front.regions


def test_variants_are_distinct_fictitious_households() -> None:
    variants = [default_fields(variant=v) for v in range(4)]
    assert len({f.municipality for f in variants}) == 4
    assert all(any(word in f.municipality for word in ("見本", "架空", "例示")) for f in variants)
    assert default_fields(variant=4) == variants[0]
    assert default_fields(serial="X-1", issued_on=dt.date(2026, 5, 2)).serial == "X-1"
    images = [render_sample_front(f, dpi=100).image for f in variants]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])


def test_mostly_white_paper_with_black_text(front: SampleFront) -> None:
    gray = front.image.mean(axis=2)
    assert gray.mean() > 200
    assert (gray < 60).mean() > 0.005  # there is text and ruling


def test_the_kiosk_prints_the_page_on_the_background_pattern(front: SampleFront) -> None:
    printed = render_sample_front(pattern=True)
    assert printed.regions == front.regions
    paper = front.image.min(axis=2) == 255
    assert paper.mean() > 0.8  # the document is blank paper between its text and rules
    assert (printed.image[paper].min(axis=1) < 250).mean() > 0.2  # the printed page is tinted there
    ink = front.image.max(axis=2) < 60
    assert np.abs(printed.image[ink].astype(int) - front.image[ink]).max() <= 20  # the text is the same
    assert np.array_equal(print_on_ground(front.image), printed.image)



def test_seal_is_red_inside_its_region(front: SampleFront) -> None:
    x0, y0, x1, y1 = front.regions["seal"]
    side_mm = (x1 - x0) / front.dpi * 25.4  # the 25 mm stamp plus a little room for its tilt
    assert 22 < side_mm < 32
    rgb = front.image[y0:y1, x0:x1].astype(int)
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)
    assert red.mean() > 0.10
    mayor = front.regions["mayor"]
    assert mayor[2] > x0 and mayor[0] < x1 and mayor[3] > y0 and mayor[1] < y1  # the seal overlaps the name


def test_regions_cover_every_field_inside_the_page(front: SampleFront) -> None:
    fields = default_fields()
    expected = {"address", "head_of_household", "issued_on", "serial", "seal", "remarks", "municipality", "mayor",
                "mayor_title"}
    for i in range(len(fields.residents)):
        expected |= {f"resident{i}.{name}" for name in ("name", "kana", "birth", "sex", "relation", "became_resident",
                                                         "settled", "notified", "previous_address")}
    assert set(front.regions) == expected
    height, width = front.image.shape[:2]
    for x0, y0, x1, y1 in front.regions.values():
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    boxes = [(k, v) for k, v in front.regions.items() if k != "seal"]
    for i, (ka, a) in enumerate(boxes):
        for kb, b in boxes[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, (ka, kb)


@pytest.mark.parametrize("latin", [False, True])
def test_changing_a_birth_date_changes_only_its_region(front: SampleFront, latin: bool) -> None:
    base = front if not latin else render_sample_front(latin=True)
    altered = _with_resident(default_fields(), 0, birth="平成2年12月25日")
    out = render_sample_front(altered, latin=latin)
    total, outside = _changes_outside(base.image, out.image, base.regions["resident0.birth"])
    assert total > 50
    assert outside == 0
    assert out.regions == base.regions


@pytest.mark.parametrize(
    ("key", "change"),
    [
        ("address", {"address": "見本県見本市架空町九丁目99番99号"}),
        ("serial", {"serial": "SAMPLE-9999"}),
        ("issued_on", {"issued_on": dt.date(2026, 12, 24)}),
        ("remarks", {"remarks": "令和8年1月1日　転居"}),
        ("mayor", {"mayor": "見本　次郎"}),
    ],
)
def test_changing_a_household_field_changes_only_its_region(key: str, change: dict) -> None:
    base = render_sample_front(dpi=150)
    out = render_sample_front(dataclasses.replace(default_fields(), **change), dpi=150)
    total, outside = _changes_outside(base.image, out.image, base.regions[key])
    assert total > 50
    assert outside == 0


def test_changing_a_second_resident_name_is_local(front: SampleFront) -> None:
    out = render_sample_front(_with_resident(default_fields(), 1, name="見本　桜子"))
    total, outside = _changes_outside(front.image, out.image, front.regions["resident1.name"])
    assert total > 50 and outside == 0


def test_latin_fallback_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FONT_ENV, "none")
    assert find_cjk_font() is None
    out = render_sample_front(dpi=150)
    assert out.latin
    assert out.image.shape == (1754, 1240, 3)
    assert "resident0.birth" in out.regions


def test_latin_fallback_by_parameter_with_unknown_text() -> None:
    fields = _with_resident(default_fields(variant=1), 0, name="未知　名前", kana="ミチ　なまえ")
    out = render_sample_front(fields, dpi=150, latin=True)
    assert out.latin and out.image.shape == (1754, 1240, 3)
    assert not np.array_equal(out.image, render_sample_front(default_fields(variant=1), dpi=150, latin=True).image)


def test_wareki_dates() -> None:
    assert to_wareki(dt.date(2026, 4, 1)) == "令和8年4月1日"
    assert to_wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert to_wareki(dt.date(2019, 4, 30)) == "平成31年4月30日"
    assert to_wareki(dt.date(1980, 4, 1)) == "昭和55年4月1日"


def test_rejects_too_many_residents_and_bad_dpi() -> None:
    fields = default_fields(variant=3)
    crowd = dataclasses.replace(fields, residents=fields.residents * 2)
    assert len(crowd.residents) > MAX_RESIDENTS
    with pytest.raises(ValueError):
        render_sample_front(crowd)
    with pytest.raises(ValueError):
        render_sample_front(dpi=10)
