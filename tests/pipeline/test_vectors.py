"""Frozen test vectors: the keyed derivations, the code and the data strip must never change (docs/format.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import lzma
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from verify import IssuingKey, KeyRing, content, derive, errors, spec, strip
from verify.code import CodePayload, parse_code, sign_payload

SECRET = bytes(range(32))
ISSUER, SERIAL = "990001", "SAMPLE-0001"


def test_certificate_key_vector():
    key = derive.certificate_key(SECRET, ISSUER, SERIAL)
    assert key.hex() == "0e63f483cea7063fc8a620911ba1d4c6f782ac30f1679d61a2cd512456f13fc1"


def test_certificate_key_follows_the_written_construction():
    message = b"certverify/v1/certificate-key\x00" + b"\x00\x06990001" + b"\x00\x0bSAMPLE-0001"
    assert derive.certificate_key(SECRET, ISSUER, SERIAL) == hmac.new(SECRET, message, hashlib.sha256).digest()


def test_permutation_vector():
    bm = derive.BlockMap.derive(SECRET, ISSUER, SERIAL)
    assert bm.perm[:12].tolist() == [1166, 846, 464, 552, 1020, 617, 2241, 2137, 757, 1216, 1526, 1391]
    digest = hashlib.sha256(bm.perm.astype(">u4").tobytes()).hexdigest()
    assert digest == "8930e503624b97e4c655a1c55d5aa74a0673e041195d117bcd2d3ab1b059c31d"
    assert sorted(bm.perm.tolist()) == list(range(spec.COLS * spec.ROWS))


def test_first_swap_follows_the_written_construction():
    """Re-derive the first Fisher-Yates draw straight from the spec text."""
    key = derive.certificate_key(SECRET, ISSUER, SERIAL)
    block = hmac.new(key, b"certverify/v1/permutation\x00" + (0).to_bytes(4, "big"), hashlib.sha256).digest()
    n = spec.COLS * spec.ROWS
    w = int.from_bytes(block[:4], "big")
    assert w < (1 << 32) - ((1 << 32) % n)  # no rejection for this vector
    j = w % n
    a = list(range(n))
    a[n - 1], a[j] = a[j], a[n - 1]
    assert derive.permutation(key, n)[n - 1] == a[n - 1]  # later swaps never touch the last place


# A certificate key whose permutation stream holds a word that is rejected (word 660, drawing for i = 1717): every
# later draw moves one word on. Found by search; about one certificate in 1,500 has one.
REJECTING_KEY = bytes.fromhex("14f21bd254b04c999b699f5d6ab057095122a499953f05bc9c0a1c45c8f7abc8")


def test_a_rejected_word_shifts_the_later_draws():
    n = spec.COLS * spec.ROWS
    words = np.frombuffer(derive.stream_bytes(REJECTING_KEY, derive.PERMUTATION_LABEL, 0, 300), ">u4").astype(int)
    bound = n - 660
    assert words[660] >= (1 << 32) - (1 << 32) % bound  # rejected: the draw for i = 1717 takes word 661
    perm = derive.permutation(REJECTING_KEY, n)
    np.testing.assert_array_equal(perm, derive.permutation_word_by_word(REJECTING_KEY, n))
    naive = list(range(n))  # what taking word k for draw k would give instead
    for k, i in enumerate(range(n - 1, 0, -1)):
        j = int(words[k]) % (i + 1)
        naive[i], naive[j] = naive[j], naive[i]
    assert perm.tolist() != naive


def test_all_at_once_and_word_by_word_agree():
    n = spec.COLS * spec.ROWS
    for serial in ("SAMPLE-0001", "SAMPLE-0002", "SAMPLE-0003"):
        key = derive.certificate_key(SECRET, ISSUER, serial)
        np.testing.assert_array_equal(derive.permutation(key, n), derive.permutation_word_by_word(key, n))


def test_transform_vector():
    bm = derive.BlockMap.derive(SECRET, ISSUER, SERIAL)
    assert bm.transform[:24].tolist() == [6, 0, 1, 6, 2, 5, 6, 5, 5, 2, 5, 2, 3, 0, 4, 5, 2, 0, 7, 1, 4, 3, 2, 1]
    digest = hashlib.sha256(bm.transform.tobytes()).hexdigest()
    assert digest == "55ff45724148a9e6abf7270b6012a690895cb1fa8f062130822bced3b3051616"


def test_serial_changes_everything():
    a = derive.BlockMap.derive(SECRET, ISSUER, SERIAL)
    b = derive.BlockMap.derive(SECRET, ISSUER, "SAMPLE-0002")
    assert b.perm[:12].tolist() == [2207, 1055, 1719, 993, 2129, 1733, 384, 818, 257, 1561, 1759, 1801]
    assert np.mean(a.perm == b.perm) < 0.01


def test_uniform_below_rejects_biased_words():
    words = iter([0xFFFFFFFF, 7])  # the first word lies above the largest multiple of 3 below 2**32
    assert derive.uniform_below(words, 3) == 1


def test_code_vector():
    seed = bytes(range(32, 64))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    ring = KeyRing([IssuingKey("vector-key", SECRET, public, seed, "2026-01-01T00:00:00+00:00")])
    code = sign_payload(CodePayload(ISSUER, "vector-key", SERIAL, "residence", dt.date(2026, 4, 1), version=1), ring)
    assert code.hex() == (
        "435601063939303030310a766563746f722d6b65790b53414d504c452d30303031097265736964656e636508323032363034"
        "3031559795d7ee2bdc8274986c059b5fd602f21079a3b642cb3ffa6c3de34c5522256b470d225e391eb18d5ddda6006294e2"
        "dcb2ad3cab23cf2ccec36bd3eaf2fa08"
    )


def test_code_vector_v2():
    """A version 2 code: the v1 fields, then the length-prefixed SHA-256 of the data strip's payload."""
    seed = bytes(range(32, 64))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    ring = KeyRing([IssuingKey("vector-key", SECRET, public, seed, "2026-01-01T00:00:00+00:00")])
    digest = hashlib.sha256(b"fingerprint").digest()
    code = sign_payload(CodePayload(ISSUER, "vector-key", SERIAL, "residence", dt.date(2026, 4, 1), version=2,
                                    content_digest=digest), ring)
    assert code.hex() == (
        "435602063939303030310a766563746f722d6b65790b53414d504c452d30303031097265736964656e63650832303236303430"
        "312044863b03e9909b7100e05b02526909a346fd7455183f6619e0fe6198c89981e0a2402dde3f127a3839d642b93040c1f3"
        "78ccee12ed0edf2101b55b60cbaa8486d4c1f8050c7451d5a145effd6adf867c2d1ff31298bd9ecd8ca67b38546c1908"
    )
    assert code[-64 - 33:-64] == b"\x20" + digest


def test_strip_vector():
    modules = strip.encode(b"certverify")
    assert modules.shape == (spec.STRIP_ROWS, spec.STRIP_COLS)
    digest = hashlib.sha256(np.packbits(modules).tobytes()).hexdigest()
    assert digest == "498ff0ac4ada2579d4709ab841b7b5f6246fbf8689eb0cbc1fa1665c8506218f"


def test_strip_follows_the_written_construction():
    """The first two strip bytes are the first byte of codewords 0 and 1: the frame's length field, 0x00 0x0a,
    each bit XORed with the first bits of SHA-256(label || u32be(0))."""
    whitening = np.unpackbits(np.frombuffer(
        hashlib.sha256(b"certverify/v2/strip-whitening\x00" + (0).to_bytes(4, "big")).digest(), np.uint8))
    expected = np.unpackbits(np.array([0x00, 0x0A], np.uint8)) ^ whitening[:16]
    assert strip.encode(b"certverify")[0, :16].astype(np.uint8).tolist() == expected.tolist()


# Format v3: the data strip's payload is encrypted under a key derived from the certificate key and the issue date.
STRIP_KEY = "5670a2068be2954b15f9d2ad13ad138fd90d92e5de0682157b19a15845a6a9b8"
# A sealed payload: one region "resident0.birth" at cell (10, 20), 3 x 2 levels, text 昭和55年4月1日. The issuer's
# LZMA2 encoder may pack the same fingerprint differently in another version; what must never change is that this
# payload opens to this fingerprint.
SEALED = bytes.fromhex(
    "8c5741c50868182fd8d094d8d6a02acdc4c1723d759bd66f3c01b724a268bad522b07c9bc8cb14fa020848b98c534b493d97b6b6e550"
    "19bf4bcdf8e92c123105e5b14e05665cf49fcc"
)


def test_strip_key_vector():
    key = derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 1))
    assert key.hex() == STRIP_KEY
    message = b"certverify/v3/strip-key\x00" + b"20260401"
    assert key == hmac.new(derive.certificate_key(SECRET, ISSUER, SERIAL), message, hashlib.sha256).digest()
    assert derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 2)) != key  # another day, another key


def test_sealed_strip_vector():
    fp = content.unseal(SEALED, 3, bytes.fromhex(STRIP_KEY))
    assert [(r.name, r.x, r.y, r.levels.tolist(), r.text) for r in fp.regions] == [
        ("resident0.birth", 10, 20, [[0, 1, 2], [3, 2, 0]], "昭和55年4月1日")]
    assert fp.cell == 5


def test_sealed_strip_follows_the_written_construction():
    """ChaCha20-Poly1305 (RFC 8439), zero nonce, associated data "certverify/v3/strip" || 0x00, over the LZMA2 raw
    stream of the v2 serialization followed by each region's length-prefixed UTF-8 text."""
    packed = ChaCha20Poly1305(bytes.fromhex(STRIP_KEY)).decrypt(bytes(12), SEALED, b"certverify/v3/strip\x00")
    raw = lzma.decompress(packed, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 16}])
    text = "昭和55年4月1日".encode()
    assert raw == (bytes([5, 1, 15]) + b"resident0.birth" + struct.pack(">4H", 10, 20, 3, 2) + bytes([0, 1, 2, 3, 2, 0])
                   + struct.pack(">H", len(text)) + text)
    with pytest.raises(errors.ScrambleMismatch):  # another key does not open it
        content.unseal(SEALED, 3, derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 2)))


def test_code_vector_v3():
    """A version 3 code has the layout of version 2; only the version byte differs."""
    seed = bytes(range(32, 64))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    ring = KeyRing([IssuingKey("vector-key", SECRET, public, seed, "2026-01-01T00:00:00+00:00")])
    digest = hashlib.sha256(SEALED).digest()
    code = sign_payload(CodePayload(ISSUER, "vector-key", SERIAL, "residence", dt.date(2026, 4, 1), version=3,
                                    content_digest=digest), ring)
    assert code[:3] == b"CV\x03" and code[-64 - 33:-64] == b"\x20" + digest
    assert code.hex() == (
        "435603063939303030310a766563746f722d6b65790b53414d504c452d30303031097265736964656e63650832303236303430"
        "3120068035633401ec66f73f231650a574e48f70255e15f1ada90cdec9d864131aefca81fedf05ddb70ff41b9547d14a70051a"
        "28bb34b2775c2bbc9129b7d561b95a8d70e42f5b1e259acffd8eb9e0439c60e4219078ec12ddeb4a3c16c13d05a80a"
    )


# Format v4: the sheet of a certificate of several. Its number and the number of sheets follow the digest in the code,
# and every keyed choice of the sheet derives from a per-sheet key that takes them in.
SHEET = (2, 3)


def test_sheet_key_vector():
    key = derive.certificate_key(SECRET, ISSUER, SERIAL, SHEET)
    assert key.hex() == "c071407ccef4cdd17e40df96220f3bbf15d287cbb2c1aa0a3d880ded160479b7"
    message = b"certverify/v4/sheet-key\x00" + b"\x00\x06990001" + b"\x00\x0bSAMPLE-0001" + b"\x02\x03"
    assert key == hmac.new(SECRET, message, hashlib.sha256).digest()
    assert derive.BlockMap.derive(SECRET, ISSUER, SERIAL, SHEET).perm[:12].tolist() == [
        799, 1267, 438, 1233, 1969, 1495, 834, 1212, 944, 1662, 512, 2068]
    strip_key = derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 1), SHEET)
    assert strip_key.hex() == "827d3fd9237fb636b97bb5eada3b8d52383b9316cba563e7d7f66d7b1cdf452f"
    assert strip_key == hmac.new(key, b"certverify/v3/strip-key\x00" + b"20260401", hashlib.sha256).digest()


def test_the_sheets_of_one_certificate_share_no_block_map_or_strip_key():
    """One serial, several sheets: a sheet's blocks or strip say nothing of another's, and no two strips of one
    certificate are encrypted under one key with the fixed nonce."""
    maps = [derive.BlockMap.derive(SECRET, ISSUER, SERIAL, (n, 3)).perm.tolist() for n in (1, 2, 3)]
    maps.append(derive.BlockMap.derive(SECRET, ISSUER, SERIAL).perm.tolist())  # the v1-v3 certificate key
    assert len({tuple(m) for m in maps}) == 4
    keys = {derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 1), (n, 3)) for n in (1, 2, 3)}
    keys |= {derive.strip_key(SECRET, ISSUER, SERIAL, dt.date(2026, 4, 1), (1, 1))}
    assert len(keys) == 4


def test_code_vector_v4():
    """A version 4 code: the v3 fields, then the sheet's number and the number of sheets, one byte each."""
    seed = bytes(range(32, 64))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    ring = KeyRing([IssuingKey("vector-key", SECRET, public, seed, "2026-01-01T00:00:00+00:00")])
    digest = hashlib.sha256(b"sealed").digest()
    code = sign_payload(CodePayload(ISSUER, "vector-key", SERIAL, "residence", dt.date(2026, 4, 1), version=4,
                                    content_digest=digest, sheet=2, sheets=3), ring)
    assert code[:3] == b"CV\x04" and code[-64 - 35:-64] == b"\x20" + digest + b"\x02\x03"
    assert code.hex() == (
        "435604063939303030310a766563746f722d6b65790b53414d504c452d30303031097265736964656e63650832303236303430"
        "3120c9d0036bed6744bcdf692fc980d8717d7e5f5a4f4e8266b4a84982602fb1cd0902034549528f5085f5684663ae700138"
        "336e7617907069afc94359a2029477e6903a68dee09b3861cb5b27d3ff04386448e4898684265465ac769eb2c312d4ba4a0c"
    )
    payload, _, _ = parse_code(code)
    assert (payload.version, payload.sheet, payload.sheets, payload.sheet_of) == (4, 2, 3, (2, 3))


@pytest.mark.parametrize(("version", "sheet", "sheets"), [(4, 0, 1), (4, 3, 2), (4, 1, 256), (3, 1, 2)])
def test_a_sheet_number_outside_the_format_is_not_signed(version, sheet, sheets):
    ring = KeyRing([IssuingKey.generate("vector-key")])
    with pytest.raises(ValueError):
        sign_payload(CodePayload(ISSUER, "vector-key", SERIAL, "residence", dt.date(2026, 4, 1), version=version,
                                 content_digest=bytes(32), sheet=sheet, sheets=sheets), ring)
