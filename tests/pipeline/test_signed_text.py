"""Format v3: the text of each bound field, encrypted in the data strip and shown beside the restored front.

The fingerprint of format v2 catches strokes added to a field but can miss one digit changed for another (see
docs/security.md, attack (e)); the signed text shows that digit as the issuer printed it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.forgery import exact_forgery, with_changes
from tests.simulate import CLASSES, scan_bytes
from verify import IssuingKey, KeyRing, content, encode_image, errors, issue, restore, spec, strip
from verify.code import parse_code
from verify.locate import locate_markers, measure_dots, strip_levels
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front

DAY = dt.date(2026, 11, 27)


def png(rgb: np.ndarray) -> bytes:
    return encode_image(rgb, "png")


def sample_texts(serial: str) -> dict[str, str]:
    return protected_texts(render_sample_front(default_fields(serial=serial, issued_on=DAY)))


@pytest.mark.parametrize("version", [3, 4])
def test_a_v3_or_v4_back_shows_the_text_the_issuer_signed(cert, keyring, version):
    """Today's backs (v4) and the v3 backs issued before them, which keep restoring."""
    if version != cert.facts.format_version:
        cert = issue(keyring, serial=cert.facts.serial, issued_on=cert.facts.issued_on, version=version)
    scan, _ = scan_bytes(cert.back, CLASSES["phone"][0], seed=4)
    result = restore(scan, keyring)
    assert result.certificate.format_version == version
    signed = result.content["signed_text"]
    texts = [{"name": f["name"], "text": f["text"]} for f in signed]
    assert texts == [{"name": k, "text": v} for k, v in sample_texts(cert.facts.serial).items()]
    assert {"name": "resident0.birth", "text": "昭和55年4月1日"} in texts
    assert {"name": "address", "text": "見本県見本市架空町一丁目2番3号"} in texts
    # each with its box on the restored front, where the result page pans to it
    for f in signed:
        x0, y0, x1, y1 = f["box"]
        assert 0 <= x0 < x1 <= spec.FRONT_W and 0 <= y0 < y1 <= spec.FRONT_H
    boxes = {f["name"]: f["box"] for f in signed}
    assert boxes["resident0.name"][1] < boxes["resident1.name"][1] < boxes["resident2.name"][1]  # top to bottom


def test_a_changed_digit_that_passes_the_image_check_shows_in_the_signed_text(cert, keyring):
    """The best forgery (every block in its exact place) of a front whose birth month reads 1 instead of 4: the
    fingerprint lets it through, as docs/security.md measures, and the signed text still says 4月."""
    fields = with_changes(default_fields(serial=cert.facts.serial, issued_on=DAY), birth=("4月", "1月"))
    scan, _ = scan_bytes(exact_forgery(cert, keyring, fields), CLASSES["office300"][0], seed=3)
    result = restore(scan, keyring)  # the image check misses it
    birth = next(f["text"] for f in result.content["signed_text"] if f["name"] == "resident0.birth")
    assert birth == "昭和55年4月1日" != fields.residents[0].birth


def test_the_strip_hides_the_fields_from_anyone_without_the_key(cert, keyring):
    """The strip's format is public; its content opens only with the issuer's scramble secret."""
    gray = np.asarray(cert.back.mean(axis=2), np.uint8)
    grid = measure_dots(gray, locate_markers(gray))
    payload = strip.decode(strip_levels(gray, grid) > 0, parse_code(cert.code)[0].content_digest)
    for text in sample_texts(cert.facts.serial).values():
        assert text.encode() not in payload
    with pytest.raises(ValueError):  # not even the fingerprint's levels can be read without the key
        content.Fingerprint.from_bytes(payload, 3)


def test_a_v2_back_still_restores_without_text(keyring):
    issued = issue(keyring, serial="TEXT-000002", issued_on=DAY, version=2)
    assert issued.facts.format_version == 2 and all(r.text == "" for r in issued.fingerprint.regions)
    result = restore(png(issued.back), keyring)
    assert result.certificate.format_version == 2
    assert result.content["bound"] is True and "signed_text" not in result.content


def test_the_issuer_is_told_what_text_it_cannot_sign(keyring):
    front = render_sample_front(default_fields(serial="TEXT-000003", issued_on=DAY))
    regions = protected_regions(front)

    def attempt(texts: dict[str, str], version: int = spec.FORMAT_VERSION) -> str:
        with pytest.raises(ValueError) as info:
            issue(keyring, front=front.image, regions=regions, texts=texts, serial="TEXT-000003", issued_on=DAY,
                  version=version)
        return str(info.value)

    assert "not one of the bound regions" in attempt({"seal": "印"})
    assert "control" in attempt({"address": "見本県\x00見本市"})
    assert "at most" in attempt({"address": "字" * 400})
    assert "v2" in attempt({"address": "見本県"}, version=2)
    # 8 fields of 60 different kanji each, 1,440 bytes that do not compress: no cell size fits the strip
    too_much = {name: "".join(chr(0x4E00 + (61 * i + 997 * k) % 20000) for i in range(60))
                for k, name in enumerate(regions)}
    assert "shorten their text" in attempt(too_much)


def test_a_ring_with_another_secret_under_the_same_key_id_cannot_open_the_strip(cert, keyring):
    key = keyring.get(cert.facts.key_id)
    other = KeyRing([IssuingKey(key.key_id, bytes(32), key.verify_key, None, key.created)])
    with pytest.raises(errors.ScrambleMismatch):
        restore(png(cert.back), other)
