"""The paper front compared with the restored front (``verify.compare``): genuine scans match, each way forgers
alter a paper front is named field by field, marks outside the fields are listed, never accused."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.field import (
    apply,
    finish,
    fold,
    fold_panels,
    grayscale,
    highlighter,
    inks_swapped,
    speckled,
    stamp,
    stamp_mask,
    sticky_note,
)
from tests.front import ALTERATIONS, Household, alter, household
from tests.simulate import CLASSES, random_scene, scan_bytes
from tests.support import seeded_key
from verify import KeyRing, Restoration, encode_image, restore
from verify.compare import FrontComparison, compare_front
from verify.errors import CorruptFile, InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample(keyring: KeyRing) -> tuple[Household, Restoration]:
    h = household(keyring, 0)
    return h, restore(scan_bytes(h.cert.back, CLASSES["office300"][0], seed=1)[0], keyring)


def compared(sample: tuple[Household, Restoration], page: np.ndarray, case: str, index: int) -> FrontComparison:
    _, restoration = sample
    return compare_front(restoration, scan_bytes(page, CLASSES[case][index], seed=index)[0])


def assert_matches(result: FrontComparison, names: list[str]) -> None:
    assert result.outcome == "matches", [r.to_dict() for r in result.regions]
    assert [r.name for r in result.regions] == names
    assert all(r.outcome == "matches" and r.difference < 1 for r in result.regions)


def test_a_genuine_office_scan_matches_in_every_field(sample):
    h, restoration = sample
    result = compared(sample, h.paper, "office300", 3)  # turned 92 degrees
    assert_matches(result, list(restoration.regions))
    assert result.aligned is not None and result.aligned.shape == restoration.image.shape
    assert result.marks == []


@pytest.mark.parametrize(("case", "index"), [("office300", 5), ("phone", 4), ("dpi200", 6)])
def test_a_genuine_front_upside_down_photographed_or_at_200_dpi_matches(sample, case, index):
    h, restoration = sample
    assert_matches(compared(sample, h.paper, case, index), list(restoration.regions))


@pytest.mark.parametrize("kind", ALTERATIONS)
def test_each_alteration_differs_naming_the_altered_field(sample, kind):
    h, _ = sample
    page, changed = alter(h, kind, np.random.default_rng([0, ALTERATIONS.index(kind)]))
    result = compared(sample, page, "office300", 1)
    assert result.outcome == "differs"
    assert result.differing and set(result.differing) <= changed, (result.differing, changed)
    body = result.to_dict(image=False)
    assert {r["name"] for r in body["regions"] if r["outcome"] == "differs"} == set(result.differing)


@pytest.mark.parametrize(("case", "index"), [("office300", 1), ("dpi200", 1), ("dpi200", 3)])
def test_a_removed_resident_line_differs_naming_its_fields_and_is_no_crease(sample, case, index):
    h, _ = sample
    page, changed = alter(h, "removed", np.random.default_rng([index, ALTERATIONS.index("removed")]))
    result = compared(sample, page, case, index)
    assert result.outcome == "differs", [r.to_dict() for r in result.regions]
    assert set(result.differing) == changed  # both fields of the line that is gone, nothing else
    assert all(r.outcome != "unreadable" for r in result.regions)


def test_a_genuine_front_folded_for_an_envelope_matches_at_the_crease_its_print_tells(sample):
    """Folded in three, the panels 1 to 2 mm apart, the panel below moved down and sideways against the one above:
    the crease runs through a resident's name. The form's print (its vertical lines step sideways there, its rows of
    print up or down) tells the row where the panel below starts; the name is cut there once, each part aligned with
    its own panel and every row compared, and matches. It was `creased`: the cut searched for over the field left
    rows out that held its ink."""
    h, restoration = sample
    rng = np.random.default_rng([2, 99])
    scan = finish(fold(h.paper, rng, shift_mm=float(rng.uniform(1.0, 2.0))), rng)
    crease = fold_panels(h.paper.shape[0])[0] * restoration.image.shape[0] / h.paper.shape[0]
    crossed = {name for name, (_, y0, _, y1) in restoration.regions.items() if y0 < crease < y1}
    assert crossed  # the first crease runs through a resident's line
    assert_matches(compare_front(restoration, scan), list(restoration.regions))


def test_a_genuine_fold_whose_panel_below_hides_rows_of_a_field_leaves_it_creased_never_differing(sample):
    """The panel below moved up 10 px (1.6 mm) over the one above: the rows of the name it covers are not on the
    paper, the name is `creased` (and the birth date beside it, whose last rows it covers too); no field differs."""
    h, restoration = sample
    rng = np.random.default_rng([1, 99])
    result = compare_front(restoration, finish(fold(h.paper, rng, shift_mm=float(rng.uniform(1.0, 2.0))), rng))
    assert not result.differing, [r.to_dict() for r in result.regions]
    unreadable = {r.name: r.reason for r in result.regions if r.outcome == "unreadable"}
    assert unreadable == {"resident1.name": "creased", "resident1.birth": "creased"}


def test_a_digit_changed_at_a_crease_the_print_tells_never_matches(sample):
    """The print 8 px (0.7 mm) lower on the sheet, so that the crease runs along the foot of a resident's date of
    birth: the genuine sheet matches in every field. One digit of that date changed and reprinted, or covered with
    correction tape and written over by hand, differs on a flat scan and is never `matches` at the crease. About the
    crease a pixel may fit either panel, so a field matches there only where no pixel differs, and only over the
    rows a searched cut would leave out: a taped digit 10 px differing on a flat scan was called `matches` beside a
    crease with either loosened (with up to 5 px differing, and with a band 2 rows wider either side). Each case
    is first shown to differ flat: one that matches even there (a change within the comparison's tolerance, which
    the README names) would prove nothing about the crease."""
    h, restoration = sample

    def folded(page: np.ndarray) -> bytes:
        lower = np.full_like(page, 255)
        lower[8:] = page[:-8]
        rng = np.random.default_rng([0, 99])
        return finish(fold(lower, rng, shift_mm=float(rng.uniform(1.0, 2.0))), rng)

    assert_matches(compare_front(restoration, folded(h.paper)), list(restoration.regions))
    for kind, seed in (("digit", 0), ("digit", 11), ("tape", 7), ("tape", 8)):
        page, changed = alter(h, kind, np.random.default_rng([seed, 77]))
        assert changed == {"resident1.birth"}
        flat = compare_front(restoration, scan_bytes(page, CLASSES["office300"][1], seed=1)[0])
        assert flat.differing == ["resident1.birth"], (kind, seed)
        result = compare_front(restoration, folded(page))
        assert all(r.outcome != "matches" for r in result.regions if r.name in changed), (kind, seed, [
            r.to_dict() for r in result.regions])


def test_a_genuine_fold_the_tiles_measure_poorly_is_creased_never_differs(sample):
    """This fold's crease runs along the top of a name, the panel above turned so that just above the crease it
    sits 6 px sideways, where the tiles (which straddle the crease) put it 2 px: the name was called `differs`
    at 45 times the threshold. Cut with each part aligned where its own ink fits, and the rows the panel below
    may hide left out, the name matches: a crease explains it, and the field is `creased` (the birth date beside
    it too)."""
    h, restoration = sample
    rng = np.random.default_rng([4, 99])
    result = compare_front(restoration, finish(fold(h.paper, rng, shift_mm=float(rng.uniform(1.0, 2.0))), rng))
    assert not result.differing, [r.to_dict() for r in result.regions]
    unreadable = {r.name: r.reason for r in result.regions if r.outcome == "unreadable"}
    assert unreadable["resident1.name"] == "creased" and set(unreadable.values()) == {"creased"}


@pytest.fixture(scope="module")
def bench_households() -> dict[int, tuple[Household, Restoration]]:
    """bench/front.py's two households (variants 0 and 3) under its key, each back scanned and restored as there."""
    ring = KeyRing([seeded_key(14)])
    out = {}
    for variant in (0, 3):
        h = household(ring, variant)
        out[variant] = h, restore(scan_bytes(h.cert.back, CLASSES["office300"][variant], seed=variant)[0], ring)
    return out


@pytest.mark.parametrize("case", [0, 2])
def test_a_genuine_fold_photographed_in_the_hand_is_never_told_differs(bench_households, case):
    """bench/front.py --field's fold2-hand cases 0 and 2: folded 2 mm, lifted and photographed in the hand under a
    bluish light. In case 0 a date of birth no crease crosses was `differs` (the sample's pale red watermark read as
    ink in the brightest channel, as under glare below); in case 2 the sheet bends across the second resident's
    line, which no row of tiles measured as a crease, and the bend smeared his name's strokes (39 times the
    threshold). The form's upright lines through that line moved off their place as well: the paper is bent there,
    and its fields are `creased`, left to the reader with their signed text; none differs."""
    h, restoration = bench_households[0]
    result = compare_front(restoration, apply("fold2-hand", h.paper, np.random.default_rng([case, 31])))
    assert not result.differing, [r.to_dict() for r in result.regions]
    assert {r.reason for r in result.regions if r.outcome == "unreadable"} <= {"creased"}


def test_a_genuine_front_photographed_under_glare_and_a_bluish_light_matches(bench_households):
    """bench/front.py --field's glare case 1: a pool of glare veils a photographed sheet under a bluish light. The
    sample's pale red check mark runs through the residents' dates of birth, and in the brightest channel its edges
    came out darker than the bluish paper; levelled to strokes the glare left faint, they read as ink: three dates
    of birth were `differs`, up to 13 times the threshold. Each channel is brought to white first."""
    h, restoration = bench_households[3]
    result = compare_front(restoration, apply("glare", h.paper, np.random.default_rng([1, 31])))
    assert_matches(result, list(restoration.regions))


@pytest.mark.parametrize("case", [2, 3])
def test_a_genuine_front_printed_with_toner_streaks_matches(bench_households, case):
    """bench/front.py --field's streaks cases 2 and 3: pale bands along the feed take up to 45 % of the ink of the
    strokes they cross. Counted to the pixel (pieces of 3 and more), a band through the address made it `differs`
    (3.7 times the threshold): a stroke printed fainter is that stroke, and a pixel differs only where the other
    side has no more than a trace of ink."""
    h, restoration = bench_households[(0, 3)[case % 2]]
    result = compare_front(restoration, apply("streaks", h.paper, np.random.default_rng([case, 31])))
    assert_matches(result, list(restoration.regions))


@pytest.mark.parametrize("condition", [None, "stamp-red"])
def test_a_date_changed_from_22_to_23_differs_with_room_to_spare(bench_households, condition):
    """bench/front.py's weakest alteration: 平成22年 reprinted as 平成23年, on a clean office scan and under a red
    receiving stamp. The 2's thin diagonal is one pixel across at the restored front's scale; an opening by 2 x 2
    took it away and the date differed by the threshold itself (6 px), under the stamp once the light's colour
    was taken off by 4 px (a match). Counted in pieces of 3 pixels or more, it differs by 1.5 times the threshold
    and more, and the overlay shows those pixels."""
    h, restoration = bench_households[0]
    page, changed = alter(h, "digit", np.random.default_rng([2, 0]))
    assert changed == {"resident2.birth"}
    if condition is None:
        data = scan_bytes(page, CLASSES["clean"][10 % len(CLASSES["clean"])], seed=10)[0]
    else:
        data = apply(condition, page, np.random.default_rng([10, 31]))
    result = compare_front(restoration, data)
    assert result.differing == ["resident2.birth"], [r.to_dict() for r in result.regions]
    field = next(r for r in result.regions if r.name == "resident2.birth")
    assert field.difference >= 1.5
    # the overlay paints the strokes that differ, not only the field's outline: the paper's own in magenta, the
    # issued ones it lacks in orange
    assert result.overlay is not None
    x0, y0, x1, y1 = field.box
    painted = result.overlay[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    assert int(((painted == (220, 0, 200)).all(axis=1) | (painted == (255, 140, 0)).all(axis=1)).sum()) >= 6


def test_a_field_moved_whole_further_than_its_pieces_reach_matches(sample):
    """A field the paper shows 6 px (1 mm) off where the page's registration puts it (a panel of a fold turned a
    little, a lens) is searched for as a whole before it differs: one such genuine folded front had a birth date
    called `differs`, every stroke one to two pixels off sideways beyond its pieces' reach."""
    h, restoration = sample
    x0, y0, x1, y1 = restoration.regions["resident0.birth"]
    scale = h.paper.shape[1] / restoration.image.shape[1]
    px0, py0, px1, py1 = (round(v * scale) for v in (x0 - 4, y0 - 4, x1 + 4, y1 + 4))
    page = h.paper.copy()
    shift = round(6 * scale)
    page[py0:py1, px0 + shift:px1 + shift] = h.paper[py0:py1, px0:px1]
    result = compared(sample, page, "office300", 3)
    assert_matches(result, list(restoration.regions))


def test_a_receiving_stamp_outside_the_fields_is_a_mark_not_a_difference(sample):
    h, restoration = sample
    page = h.paper.copy()
    mask = stamp_mask(np.random.default_rng(3))  # a 30 mm red receiving stamp in the blank lower left
    y0, x0 = 2900, 300
    area = page[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]].astype(np.float32)
    red = np.array([0.95, 0.25, 0.3], np.float32)
    page[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = (area * (1 - mask[..., None] * (1 - red))).astype(np.uint8)
    result = compared(sample, page, "office300", 0)
    assert_matches(result, list(restoration.regions))
    scale = restoration.image.shape[1] / page.shape[1]  # the stamp's place on the restored front
    cx, cy = (x0 + mask.shape[1] / 2) * scale, (y0 + mask.shape[0] / 2) * scale
    assert any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in result.marks), result.marks


@pytest.mark.parametrize(("mark", "field"), [("blue stamp", "resident0.name"), ("black stamp", "head_of_household"),
                                             ("grey note", "resident1.birth"), ("yellow note", "address")])
def test_a_stamp_or_a_note_over_a_field_leaves_it_unread_never_differing(sample, mark, field):
    """A receiving stamp pressed across a field, a sticky note stuck over one: ink the issuer did not print, print
    the paper no longer shows. Taken together they reach over several rows and lie in coloured ink, in a ring (a
    black stamp's, which crosses too few of the form's lines to tell it by) or on a surface that is not the paper,
    which a changed field does not: the field is `unreadable` (`marked`), never `differs` and never `matches`, and
    the answer never says the front differs."""
    h, restoration = sample
    box = restoration.regions[field]
    scale = h.paper.shape[1] / restoration.image.shape[1]
    centre = ((box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale)
    rng = np.random.default_rng(5)
    if mark.endswith("stamp"):
        page = stamp(h.paper, rng, colour=mark.split()[0], centre=centre)
    else:
        page = sticky_note(h.paper, rng, side_mm=45.0, colour=mark.split()[0], centre=centre)
    result = compared(sample, page, "office300", 0)
    outcomes = {r.name: (r.outcome, r.reason) for r in result.regions}
    assert outcomes[field] == ("unreadable", "marked"), outcomes
    assert result.outcome == "unreadable" and not result.differing


@pytest.mark.parametrize("seed", [0, 2])
def test_a_grey_highlighter_over_a_field_leaves_it_unread_never_differing(sample, seed):
    """A grey highlighter drawn along a resident's line: a 5 mm band of flat grey, no colour to tell it by, not tall
    enough to reach over four rows, and the name it crosses differed. The issuer prints thin strokes; a band this
    broad and this long was laid over the page: the field is `unreadable` (`marked`), never `differs`."""
    h, restoration = sample
    rng = np.random.default_rng([seed, 31])
    result = compare_front(restoration, finish(highlighter(h.paper, rng, colour="grey"), rng))
    outcomes = {r.name: (r.outcome, r.reason) for r in result.regions}
    assert outcomes["resident2.name"] == ("unreadable", "marked"), outcomes
    assert result.outcome == "unreadable" and not result.differing


def test_a_pen_note_beside_a_name_that_touches_it_leaves_it_unread_never_differing():
    """bench/front.py --field's handwriting case 1: a black ballpoint note of three lines written beside the fourth
    resident's name, one stroke's end 2 px into the name's box. The note is 29 mm tall, in black, and crosses the
    form's lines in 4 places only; but nearly all of what differs lies outside every field, where the issuer's
    fields do not change: the name is `unreadable` (`marked`), never `differs`."""
    ring = KeyRing([seeded_key(14)])
    h = household(ring, 3)
    restoration = restore(scan_bytes(h.cert.back, CLASSES["office300"][3], seed=3)[0], ring)
    result = compare_front(restoration, apply("handwriting", h.paper, np.random.default_rng([1, 31])))
    outcomes = {r.name: (r.outcome, r.reason) for r in result.regions}
    assert outcomes["resident3.name"] == ("unreadable", "marked"), outcomes
    assert result.outcome == "unreadable" and not result.differing


@pytest.mark.parametrize(("condition", "reason", "kind", "seed"), [(speckled, "spotted", "pasted", 3),
                                                              (inks_swapped, "faded", "name", 1)])
def test_paper_specked_or_printed_pale_leaves_fields_unread_and_added_ink_still_differs(sample, condition, reason,
                                                                                       kind, seed):
    """Grey specks over the whole sheet (grime on rough paper, toner a worn drum scatters) fall in every field; half
    the strokes printed in pale colours of their own (a printer mixing its inks badly) are gone from the brightest
    channel the comparison reads. Either made a genuine front differ in six to eight fields of every sheet. The
    blank paper carries the same specks: taken off, the fields match (`spotted`). The pale strokes are still there
    in the paper's darkest channel, darker than the paper around them, where ink removed or printed over with the
    pattern is not: a field that lacks only ink is `faded`. Either is `unreadable`, never `differs` and never
    `matches`. Taking specks off only lightens the paper, and putting the issuer's ink back where the paper's is
    fainter hides no extra ink: a resident line pasted in, a name replaced, on the same paper, is still named."""
    h, _ = sample
    for i in range(2):
        result = compared(sample, condition(h.paper, np.random.default_rng([i, 31])), "office300", i)
        assert result.outcome == "unreadable" and result.reason == reason, [r.to_dict() for r in result.regions]
        assert not result.differing
        assert {r.reason for r in result.regions if r.outcome != "matches"} == {reason}
    page, changed = alter(h, kind, np.random.default_rng([seed, ALTERATIONS.index(kind)]))
    result = compared(sample, condition(page, np.random.default_rng(7)), "office300", 0)
    assert result.outcome == "differs" and changed & set(result.differing), [r.to_dict() for r in result.regions]


def test_a_gray_scan_leaves_fields_under_the_seal_unread_and_never_matches_a_digit_changed_there(sample):
    """A gray scan shows the issuer's red seal as grey in tones of its own, so print under it is not compared. A
    field with print there was nonetheless a match on what was compared, and one changed digit under the seal
    (resident2.birth, 22 read as 23) was called `matches`. Such a field is `unreadable` (`sealed`), never a match; the
    answer asks for a colour scan, in which the seal is paper and the print under it is compared."""
    h, restoration = sample
    result = compared(sample, grayscale(h.paper, np.random.default_rng(0)), "office300", 0)
    assert result.outcome == "unreadable" and result.reason == "sealed" and not result.differing
    page, changed = alter(h, "digit", np.random.default_rng([2, 0]))
    result = compared(sample, grayscale(page, np.random.default_rng(0)), "office300", 0)
    assert result.outcome != "matches" and all(r.outcome != "matches" for r in result.regions if r.name in changed)


def test_a_field_a_crease_cuts_through_its_ink_is_never_a_match(sample):
    """A sheet folded in four, the crease's panel below moved 2 mm against the one above: a field near the crease is
    cut and each part aligned with its own panel, and the rows the panel below may hide are left out. A changed
    digit matched once those rows were put over the stroke that changed (55 read as 53, with correction tape; 22 as
    23, a digit edited and reprinted), though the crease was elsewhere: the cut may be put anywhere in the field. A
    field is compared only where none of its ink falls in the rows left out; otherwise it is `creased`, never a
    match."""
    h, restoration = sample
    for seed, kind in ((2, "digit"), (14, "tape")):
        page, changed = alter(h, kind, np.random.default_rng([seed, ALTERATIONS.index(kind)]))
        rng = np.random.default_rng([seed, 7])
        result = compare_front(restoration, finish(fold(page, rng, shift_mm=2.0, panels=4), rng))
        assert all(r.outcome != "matches" for r in result.regions if r.name in changed), [
            r.to_dict() for r in result.regions]


def test_a_picture_that_is_not_this_front_is_unreadable_and_a_broken_file_an_input_error(sample):
    _, restoration = sample
    result = compare_front(restoration, encode_image(random_scene(2), "jpeg"))
    assert (result.outcome, result.reason, result.regions) == ("unreadable", "not_registered", [])
    assert result.to_dict()["outcome"] == "unreadable"
    with pytest.raises(CorruptFile):
        compare_front(restoration, encode_image(restoration.image, "png")[:5000])
    with pytest.raises(InputError):
        compare_front(restoration, b"")


@pytest.mark.parametrize("index", [0, 3])
def test_a_genuine_front_faxed_in_black_and_white_is_unreadable_never_differs(sample, index):
    """A 1-bit scan (a fax, a black-and-white mode) loses thin strokes and turns grey print and the pattern to dots:
    a genuine front so scanned differed in four fields of five at 21 times the threshold. It is `unreadable`,
    `tones_lost`, with a request to scan again in colour or grayscale."""
    h, _ = sample
    result = compared(sample, h.paper, "fax", index)
    assert (result.outcome, result.reason) == ("unreadable", "tones_lost")
    assert not any(r.outcome == "differs" for r in result.regions)


def test_the_answer_carries_the_overlay_as_the_restored_front_is_embedded(sample):
    h, restoration = sample
    page, _ = alter(h, "name", np.random.default_rng(7))
    result = compared(sample, page, "office300", 2)
    body = result.to_dict()
    assert set(body) >= {"outcome", "regions", "marks", "overlay_image"}
    assert body["overlay_image"]["media_type"] == "image/png"
    overlay = cv2.imdecode(np.frombuffer(base64.b64decode(body["overlay_image"]["data"]), np.uint8), 1)
    assert overlay.shape == restoration.image.shape
    json.dumps(body)  # JSON-ready as it is
    assert "overlay_image" not in result.to_dict(image=False)
    differing = next(r for r in result.regions if r.outcome == "differs")
    x0, y0, x1, y1 = differing.box  # outlined in red on the overlay
    assert (overlay[y0 - 4, x0:x1] == (0, 0, 220)).all(axis=1).mean() > 0.9  # BGR


def test_a_v1_front_is_compared_in_coarse_cells(keyring):
    h = household(keyring, 3, version=1)
    restoration = restore(scan_bytes(h.cert.back, CLASSES["office300"][0], seed=1)[0], keyring)
    assert restoration.regions == {}
    genuine = compare_front(restoration, scan_bytes(h.paper, CLASSES["office300"][2], seed=2)[0])
    assert genuine.outcome == "matches" and len(genuine.regions) > 20
    assert all(r.name.startswith("cell-") for r in genuine.regions)
    page, _ = alter(h, "removed", np.random.default_rng(1))
    assert compare_front(restoration, scan_bytes(page, CLASSES["office300"][2], seed=2)[0]).outcome == "differs"


def test_the_command_line_adds_the_comparison_and_writes_the_overlay(sample, keyring, tmp_path):
    h, _ = sample
    keys = tmp_path / "keys"
    keys.mkdir()
    for key_id in keyring.ids():  # the fixture's ring, as files
        keyring.save(keys, keyring.get(key_id))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    back, front = tmp_path / "back.jpg", tmp_path / "front.jpg"
    back.write_bytes(scan_bytes(h.cert.back, CLASSES["office300"][0], seed=1)[0])
    page, _ = alter(h, "pasted", np.random.default_rng(5))
    front.write_bytes(scan_bytes(page, CLASSES["office300"][4], seed=4)[0])
    done = subprocess.run([sys.executable, "-m", "verify", "restore", str(back), "--front", str(front), "--keys",
                           str(keys), "--out", str(tmp_path / "r.png")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stderr == "" and done.stdout.count("\n") == 1, done.stderr
    answer = json.loads(done.stdout)
    comparison = answer["front_comparison"]
    assert comparison["outcome"] == "differs" and "overlay_image" not in comparison
    assert Path(comparison["overlay"]) == tmp_path / "r.front-overlay.png" and Path(comparison["overlay"]).is_file()
    front.write_bytes(b"not a picture")
    done = subprocess.run([sys.executable, "-m", "verify", "restore", str(back), "--front", str(front), "--keys",
                           str(keys)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stderr == ""  # the back verified; the front is named unreadable
    assert json.loads(done.stdout)["front_comparison"]["reason"] == "unsupported_format"


def test_the_paper_is_moved_where_the_plane_and_the_tile_field_put_each_pixel():
    """The warp by the homography, then the move by the tiles' field: each restored pixel reads the scan where the
    exact mapping says (within a tenth of a scan pixel, here a twentieth of a restored one, across a crease-like
    step of the field too), and where the page runs off the scan it is marked as such."""
    from verify.compare import TILE_PX, _field, _remap, _warp

    w, h = 400, 520
    scan_w, scan_h = 700, 1000  # narrower and shorter than the page: its right and lower edges are off the scan
    # the scan's pixels carry their own coordinates: what is read back is where it was read from
    xs, ys = np.meshgrid(np.arange(scan_w, dtype=np.float32), np.arange(scan_h, dtype=np.float32))
    scan = np.dstack([xs, ys, xs])
    turn = np.deg2rad(3.0)
    hom = np.array([[0.5 * np.cos(turn), -0.5 * np.sin(turn), 12.0], [0.5 * np.sin(turn), 0.5 * np.cos(turn), -20.0],
                    [2e-6, -1e-6, 1.0]])
    rows, cols = h // (TILE_PX // 2), w // (TILE_PX // 2)
    gy, gx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    grid = np.dstack([0.8 * np.sin(gx / 2) + 0.1 * gy, 1.5 * (gy > rows / 2) - 0.3 * np.cos(gx)]).astype(np.float32)
    grid = np.dstack([cv2.GaussianBlur(np.ascontiguousarray(grid[..., k]), (0, 0), 0.7) for k in range(2)])

    aligned, valid = _remap(*_warp(scan, hom, (w, h)), grid)

    px, py = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    at = np.dstack([px, py])
    moved = at + _field(grid, at)
    exact = cv2.perspectiveTransform(moved, np.linalg.inv(hom))
    # read where the scan has pixels and the field does not reach past the page's edge
    inside = ((exact[..., 0] >= 2) & (exact[..., 0] <= scan_w - 3) & (exact[..., 1] >= 2)
              & (exact[..., 1] <= scan_h - 3) & (moved.min(axis=2) >= 1) & (moved[..., 0] <= w - 2)
              & (moved[..., 1] <= h - 2))
    assert 0.3 < inside.mean() < 0.95
    assert np.abs(aligned[..., :2] - exact)[inside].max() < 0.1
    assert (valid[inside] == 255).all()
    outside = ((exact[..., 0] < -2) | (exact[..., 0] > scan_w + 1) | (exact[..., 1] < -2) | (exact[..., 1] > scan_h + 1))
    assert (valid[outside] == 0).all()


def test_a_front_compared_from_its_file_or_from_the_picture_decoded_reads_the_same_colours(sample):
    """The file's pixels stay in the decoder's channel order until the scan is reduced, a picture a stack hands over
    is RGB: both give the same aligned paper, in RGB (the stamp red), and the same answer, the stamp a mark."""
    from verify.compare import _decode, compare_picture
    from verify.model import Limits

    h, restoration = sample
    page = h.paper.copy()
    mask = stamp_mask(np.random.default_rng(3))  # a red receiving stamp in the blank lower left
    y0, x0 = 2900, 300
    area = page[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]].astype(np.float32)
    red = np.array([0.95, 0.25, 0.3], np.float32)
    page[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = (area * (1 - mask[..., None] * (1 - red))).astype(np.uint8)
    data = scan_bytes(page, CLASSES["office300"][0], seed=0)[0]
    from_file = compare_front(restoration, data)
    picture = cv2.cvtColor(_decode(data, Limits(), 0), cv2.COLOR_BGR2RGB)  # as the stack's decoder gives it
    from_picture = compare_picture(restoration, picture)
    assert from_file.aligned is not None and from_picture.aligned is not None
    assert from_file.to_dict(image=False) == from_picture.to_dict(image=False)
    assert from_file.marks, from_file.to_dict(image=False)  # the stamp, found by its colour
    x0, y0, x1, y1 = from_file.marks[0]
    for aligned in (from_file.aligned, from_picture.aligned):
        stamp = aligned[y0:y1, x0:x1].reshape(-1, 3).astype(int)
        assert ((stamp[:, 0] - stamp[:, 2]) > 60).sum() > 100  # red in the aligned paper, RGB, not blue


def test_the_tile_field_spread_once_per_row_that_reads_alike_is_the_field_at_every_pixel():
    """The field is interpolated once for each group of rows that OpenCV's remap reads at the same 32nd of a tile
    step: the page is moved exactly as by the field interpolated at every pixel, on a page of odd size too."""
    from verify.compare import TILE_PX, _remap

    h, w = 999, 701
    rows, cols = h // (TILE_PX // 2), w // (TILE_PX // 2)
    grid = np.random.default_rng(5).normal(0, 3, (rows, cols, 2)).astype(np.float32)
    page = np.random.default_rng(6).integers(0, 256, (h, w, 3), np.uint8)
    valid = np.full((h, w), 255, np.uint8)
    step = TILE_PX / 2
    px, py = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    field = cv2.remap(grid, (px - TILE_PX / 2) / step, (py - TILE_PX / 2) / step, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    exact = cv2.remap(page, px + field[..., 0], py + field[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    moved, _ = _remap(page, valid, grid)
    assert np.array_equal(moved, exact)


def test_marks_are_the_components_of_the_whole_page_in_their_order():
    """Only the part of the page the extra ink reaches is labelled: the same boxes, in the same order, as labelling
    the whole page, with strokes starting on odd rows and columns, near an edge, and specks too small to count."""
    from verify.compare import MARK_MIN_PX, _marks

    rng = np.random.default_rng(8)
    extra = np.zeros((700, 500), np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(0, 480)), int(rng.integers(41, 690))
        extra[y:y + int(rng.integers(1, 9)), x:x + int(rng.integers(3, 40))] = 1
    extra[695:700, 3:60] = 1  # along the lower edge
    # the topmost strokes: joined, the first begins on an odd row, the second a row below it further left
    extra[20:22, 400:420] = 1
    extra[21:23, 50:70] = 1
    in_region = np.zeros_like(extra, bool)
    in_region[150:200, 100:300] = True
    outside = (extra > 0) & ~in_region
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        cv2.dilate(outside.astype(np.uint8), np.ones((15, 15), np.uint8)), 8, cv2.CV_32S, cv2.CCL_GRANA)
    expected = [(int(x) + 7, int(y) + 7, int(x + bw) - 7, int(y + bh) - 7) for k, (x, y, bw, bh, _) in
                enumerate(stats) if k > 0 and int(outside[labels == k].sum()) >= MARK_MIN_PX]
    assert 3 <= len(expected) < count - 1  # some marks, some specks left out
    assert _marks(extra, in_region) == expected
