"""The data strip of formats v2 and v3: bytes carried in a field of square modules below the scrambled area.

The strip holds the content fingerprint (``verify.content``; in v3 with each field's text, encrypted), too large
for the QR code. The QR code carries the
SHA-256 of the strip's payload under the issuer's signature, so the strip itself needs no signature: a strip that
decodes to other bytes is refused. Encoding (``docs/format.md`` section 8):

1. frame = u16be(len(payload)) || payload, zero-padded to CODEWORDS * DATA_BYTES bytes;
2. frame byte i goes to codeword i % CODEWORDS; each codeword gets PARITY_BYTES of Reed-Solomon parity over
   GF(2^8) (polynomial 0x11d, generator 2, first consecutive root 0), systematic: data first, parity after;
3. byte j of codeword c is strip byte j * CODEWORDS + c, so a smudge spreads over all codewords;
4. strip bits, most significant first, fill the STRIP_ROWS x STRIP_COLS modules row by row (the last few
   modules get 0 bits), each XORed with a whitening bit (the bits of SHA-256(WHITEN_LABEL || u32be(k)) for
   k = 0, 1, ... concatenated) so that no stretch of the strip is uniform. A dark module is a 1.
"""

from __future__ import annotations

import functools
import hashlib
import struct

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from . import spec
from .errors import BadSignature, StripUnreadable

CODEWORDS = 4
CODEWORD_BYTES = 215  # 4 x 215 bytes = 6,880 of the strip's 6,888 modules
PARITY_BYTES = 48  # corrects 24 wrong bytes in every codeword
DATA_BYTES = CODEWORD_BYTES - PARITY_BYTES
CAPACITY = CODEWORDS * DATA_BYTES - 2  # 666 payload bytes
WHITEN_LABEL = b"certverify/v2/strip-whitening\x00"
# Bytes of a codeword, its least certain first, set aside (erased) when its parity repairs it no other way: an erased
# byte costs half the parity a wrong one does, so a blurred or streaked strip whose doubtful modules hold most of its
# errors still reads. Each step leaves parity over to check the rest: at 40 erasures, 8 parity bytes (4 errors).
# Measured on Augraphy's prints with the office scan (Faxify's blur, toner streaks): 35 to 50 wrong bytes a
# codeword read plainly, 20 to 33 with the gaps filled, of which the least certain 24 hold most.
ERASURE_STEPS = (8, 16, 24, 32, 40)


def digest(payload: bytes) -> bytes:
    """What the signed code says about the strip: SHA-256 of its payload."""
    return hashlib.sha256(payload).digest()


@functools.cache
def _whitening() -> np.ndarray:
    n = spec.STRIP_ROWS * spec.STRIP_COLS
    stream = b"".join(hashlib.sha256(WHITEN_LABEL + struct.pack(">I", k)).digest() for k in range(-(-n // 256)))
    return np.unpackbits(np.frombuffer(stream, np.uint8))[:n].astype(bool).reshape(spec.STRIP_ROWS, spec.STRIP_COLS)


@functools.cache
def _codec() -> RSCodec:
    return RSCodec(PARITY_BYTES, nsize=CODEWORD_BYTES)


def encode(payload: bytes) -> np.ndarray:
    """The strip's modules (True = dark) for ``payload``; ValueError when it does not fit."""
    if len(payload) > CAPACITY:
        raise ValueError(f"{len(payload)} bytes do not fit the data strip ({CAPACITY} at most)")
    frame = (struct.pack(">H", len(payload)) + payload).ljust(CODEWORDS * DATA_BYTES, b"\0")
    codewords = [bytes(_codec().encode(frame[c::CODEWORDS])) for c in range(CODEWORDS)]
    strip = bytes(codewords[i % CODEWORDS][i // CODEWORDS] for i in range(CODEWORDS * CODEWORD_BYTES))
    bits = np.zeros(spec.STRIP_ROWS * spec.STRIP_COLS, bool)
    bits[:len(strip) * 8] = np.unpackbits(np.frombuffer(strip, np.uint8)).astype(bool)
    return bits.reshape(spec.STRIP_ROWS, spec.STRIP_COLS) ^ _whitening()


def decode(modules: np.ndarray, expected: bytes, certainty: np.ndarray | None = None) -> bytes:
    """The payload of a strip read as ``modules`` (True = dark), checked against the signed ``expected`` digest.

    Reading is free when no module was misread (the data bytes come first in every codeword); otherwise the
    Reed-Solomon parity repairs up to PARITY_BYTES / 2 wrong bytes per codeword, and, given each module's
    ``certainty`` (how far its reading lies from the threshold), a codeword it cannot repair so is read again with
    its least certain bytes erased (ERASURE_STEPS). ``StripUnreadable`` when it cannot, ``BadSignature`` when the
    strip decodes without erasures but is not the one the issuer signed: bytes guessed by erasure may be repaired to
    another codeword, which says nothing against the paper."""
    bits = (np.asarray(modules, bool) ^ _whitening()).ravel()[:CODEWORDS * CODEWORD_BYTES * 8]
    strip = np.packbits(bits.astype(np.uint8)).tobytes()
    codewords = [bytearray(strip[c::CODEWORDS]) for c in range(CODEWORDS)]
    payload = _payload(codewords)
    if payload is not None and digest(payload) == expected:
        return payload
    doubt = (None if certainty is None else
             np.asarray(certainty, np.float64).ravel()[:CODEWORDS * CODEWORD_BYTES * 8].reshape(-1, 8).min(axis=1))
    repaired, erased = [], False
    for c, cw in enumerate(codewords):
        try:
            repaired.append(bytearray(_codec().decode(cw)[0]))
        except ReedSolomonError as exc:
            if doubt is None or (read := _erased(cw, doubt[c::CODEWORDS])) is None:
                raise StripUnreadable("the data strip has more damage than its parity repairs") from exc
            repaired.append(read)
            erased = True
    payload = _payload([cw + bytes(PARITY_BYTES) for cw in repaired])
    if payload is None:
        raise StripUnreadable("the data strip's length field is out of range")
    if digest(payload) != expected:
        if erased:
            raise StripUnreadable("the data strip read only with its least certain bytes erased, and what it read "
                                  "does not match the signed code")
        raise BadSignature("the data strip does not match the signed code")
    return payload


def _erased(codeword: bytearray, doubt: np.ndarray) -> bytearray | None:
    """The data bytes of ``codeword`` repaired with its least certain bytes (``doubt``: low first) erased, the
    fewest of ERASURE_STEPS that repair it; None when none does."""
    order = np.argsort(doubt, kind="stable")
    for k in ERASURE_STEPS:
        try:
            return bytearray(_codec().decode(codeword, erase_pos=sorted(int(i) for i in order[:k]))[0])
        except ReedSolomonError:
            continue
    return None


def _payload(codewords: list[bytearray]) -> bytes | None:
    """The payload from the data bytes of the codewords, or None when its length field is impossible."""
    frame = bytearray(CODEWORDS * DATA_BYTES)
    for c, cw in enumerate(codewords):
        frame[c::CODEWORDS] = cw[:DATA_BYTES]
    n = struct.unpack(">H", frame[:2])[0]
    return bytes(frame[2:2 + n]) if n <= CAPACITY else None
