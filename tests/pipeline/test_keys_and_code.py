"""Key ring files and the signed code."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest

from verify import IssuingKey, KeyRing, errors
from verify.code import CodePayload, check_code, parse_code, sign_payload
from verify.keys import init_ring


def test_init_creates_owner_only_ring(tmp_path):
    path = tmp_path / "keys"
    ring, key = init_ring(path)
    assert key is not None and key.key_id in ring
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((path / f"{key.key_id}.json").stat().st_mode) == 0o600
    again, none = init_ring(path)
    assert none is None and again.ids() == ring.ids()
    loaded = KeyRing.load(path)
    assert loaded.get(key.key_id).scramble_secret == key.scramble_secret


def test_rotation_keeps_old_keys_and_signs_with_the_newest(tmp_path):
    path = tmp_path / "keys"
    init_ring(path, "a-2025")
    ring, new = init_ring(path, "b-2026")
    assert ring.ids() == ["a-2025", "b-2026"]
    assert ring.default_signing_key().key_id == "b-2026"


def test_verifying_only_ring_cannot_sign(tmp_path):
    key = IssuingKey.generate("v")
    (tmp_path / "v.json").write_text(json.dumps(key.to_json(include_private=False)))
    ring = KeyRing.load(tmp_path)
    with pytest.raises(errors.ConfigurationError):
        ring.default_signing_key()


def test_bad_key_files_are_a_configuration_error(tmp_path):
    (tmp_path / "x.json").write_text('{"key_id": "x", "scramble_secret": "00"}')
    with pytest.raises(errors.ConfigurationError):
        KeyRing.load(tmp_path)
    with pytest.raises(errors.ConfigurationError):
        KeyRing.load(tmp_path / "missing")


def test_a_key_names_only_the_issuers_its_file_lists(tmp_path):
    key = IssuingKey.generate("named", {"131016": "東京都台東区"})
    (tmp_path / "named.json").write_text(json.dumps(key.to_json(), ensure_ascii=False), encoding="utf-8")
    loaded = KeyRing.load(tmp_path).get("named")
    assert loaded.issuer_name("131016") == "東京都台東区" and loaded.issuer_name("990001") is None
    for issuers in ({"131016": ""}, {"lower": "x"}, {"131016": "x" * 65}, ["131016"], {"131016": "改行\n"}):
        with pytest.raises(ValueError):
            IssuingKey.from_json({**key.to_json(), "issuers": issuers})


def test_mismatched_key_pair_is_refused():
    a, b = IssuingKey.generate("a"), IssuingKey.generate("b")
    data = a.to_json()
    data["verify_key"] = b.verify_key.hex()
    with pytest.raises(ValueError):
        IssuingKey.from_json(data)


@pytest.fixture
def ring():
    return KeyRing([IssuingKey.generate("k1")])


def payload(**kw):
    base = dict(issuer="990001", key_id="k1", serial="S-1", document_type="residence", issued_on=dt.date(2026, 4, 1),
                content_digest=bytes(range(32)))
    base.update(kw)
    return CodePayload(**base)


def test_code_round_trip(ring):
    code = sign_payload(payload(), ring)
    assert check_code(code, ring) == payload()


def test_every_edited_byte_is_caught(ring):
    code = bytearray(sign_payload(payload(), ring))
    for i in range(3, len(code)):
        edited = bytearray(code)
        edited[i] ^= 0x01
        with pytest.raises(errors.CodeError):
            check_code(bytes(edited), ring)


def test_edited_serial_is_a_bad_signature(ring):
    code = sign_payload(payload(serial="S-1"), ring)
    with pytest.raises(errors.BadSignature):
        check_code(code.replace(b"S-1", b"S-2"), ring)


def test_unknown_key(ring):
    code = sign_payload(payload(), ring)
    with pytest.raises(errors.UnknownKey):
        check_code(code, KeyRing([IssuingKey.generate("k2")]))


def test_same_id_other_key_is_a_bad_signature(ring):
    code = sign_payload(payload(), ring)
    with pytest.raises(errors.BadSignature):
        check_code(code, KeyRing([IssuingKey.generate("k1")]))


def test_malformed_and_future_codes(ring):
    code = sign_payload(payload(), ring)
    with pytest.raises(errors.CodeUnreadable):
        parse_code(b"hello")
    with pytest.raises(errors.CodeUnreadable):
        parse_code(code[:-1])
    with pytest.raises(errors.UnsupportedVersion):
        parse_code(code[:2] + b"\x09" + code[3:])


def test_fields_are_validated(ring):
    with pytest.raises(ValueError):
        sign_payload(payload(serial="lower-case"), ring)
    with pytest.raises(ValueError):  # a version 2 code binds content: it cannot go without its digest
        sign_payload(payload(content_digest=b""), ring)
    with pytest.raises(ValueError):
        sign_payload(payload(version=1), ring)


def test_version_1_codes_still_parse(ring):
    code = sign_payload(payload(version=1, content_digest=b""), ring)
    parsed, _, _ = parse_code(code)
    assert (parsed.version, parsed.content_digest) == (1, b"")
    assert check_code(code, ring).serial == "S-1"


def test_the_content_digest_is_signed(ring):
    code = bytearray(sign_payload(payload(), ring))
    at = code.index(bytes(range(32)))
    code[at + 5] ^= 1
    with pytest.raises(errors.BadSignature):
        check_code(bytes(code), ring)
