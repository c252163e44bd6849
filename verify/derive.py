"""Keyed derivations: every printed choice comes from HMAC-SHA256, never from a library RNG.

The constructions are specified byte for byte in ``docs/format.md`` and pinned by frozen test vectors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import spec

CERT_KEY_LABEL = b"certverify/v1/certificate-key\x00"
SHEET_KEY_LABEL = b"certverify/v4/sheet-key\x00"
PERMUTATION_LABEL = b"certverify/v1/permutation\x00"
TRANSFORM_LABEL = b"certverify/v1/transform\x00"
STRIP_KEY_LABEL = b"certverify/v3/strip-key\x00"


def length_prefixed(text: str) -> bytes:
    """UTF-8 bytes of ``text`` preceded by their length as a 2-byte big-endian integer."""
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


Sheet = tuple[int, int] | None  # format v4 on: (sheet number, number of sheets); None for the earlier versions


def certificate_key(secret: bytes, issuer: str, serial: str, sheet: Sheet = None) -> bytes:
    """The per-certificate key: HMAC-SHA256(secret, label || lp(issuer) || lp(serial)), and from format v4 on, the
    per-sheet key HMAC-SHA256(secret, sheet label || lp(issuer) || lp(serial) || u8(sheet) || u8(sheets)): the
    sheets of one certificate share a serial but never a block map or a strip key."""
    message = length_prefixed(issuer) + length_prefixed(serial)
    if sheet is None:
        return hmac.new(secret, CERT_KEY_LABEL + message, hashlib.sha256).digest()
    return hmac.new(secret, SHEET_KEY_LABEL + message + bytes(sheet), hashlib.sha256).digest()


def strip_key(secret: bytes, issuer: str, serial: str, issued_on: dt.date, sheet: Sheet = None) -> bytes:
    """Format v3 on: the key that encrypts the data strip, HMAC-SHA256(K, label || issue date as ASCII YYYYMMDD).

    The issue date enters so that a serial issued again on another day never encrypts under the same key."""
    label = STRIP_KEY_LABEL + issued_on.strftime("%Y%m%d").encode("ascii")
    return hmac.new(certificate_key(secret, issuer, serial, sheet), label, hashlib.sha256).digest()


def stream_block(key: bytes, label: bytes, counter: int) -> bytes:
    """Block ``counter`` of a stream: HMAC-SHA256(key, label || u32be(counter))."""
    return hmac.new(key, label + struct.pack(">I", counter), hashlib.sha256).digest()


def stream_bytes(key: bytes, label: bytes, start_block: int, n_blocks: int) -> bytes:
    """Blocks ``start_block`` .. ``start_block + n_blocks - 1`` of a stream, concatenated."""
    return b"".join(stream_block(key, label, c) for c in range(start_block, start_block + n_blocks))


def _words(key: bytes, label: bytes) -> Iterator[int]:
    """The stream read as big-endian 32-bit words, fetched 64 blocks at a time."""
    block = 0
    while True:
        chunk = stream_bytes(key, label, block, 64)
        block += 64
        yield from struct.unpack(f">{len(chunk) // 4}I", chunk)


def uniform_below(words: Iterator[int], bound: int) -> int:
    """An unbiased integer in [0, bound) by rejection sampling of 32-bit words."""
    limit = (1 << 32) - ((1 << 32) % bound)
    while True:
        w = next(words)
        if w < limit:
            return w % bound


def permutation(key: bytes, n: int) -> np.ndarray:
    """Fisher-Yates shuffle of 0..n-1 drawn from the permutation stream: entry p is the front block printed at p.

    The draws are computed from the stream's first n - 1 words at once; only when one of them would be rejected
    (about one certificate in 1,500 at the format's block count), shifting every later draw, is the shuffle
    drawn word by word."""
    words = np.frombuffer(stream_bytes(key, PERMUTATION_LABEL, 0, -(-(n - 1) // 8)), ">u4")[: n - 1].astype(np.int64)
    bounds = np.arange(n, 1, -1, dtype=np.int64)
    if (words >= (1 << 32) - (1 << 32) % bounds).any():
        return permutation_word_by_word(key, n)
    return _shuffle(n, (words % bounds).tolist())


def permutation_word_by_word(key: bytes, n: int) -> np.ndarray:
    """``permutation`` as the format states it: each draw by rejection sampling from the next words."""
    words = _words(key, PERMUTATION_LABEL)
    return _shuffle(n, [uniform_below(words, i + 1) for i in range(n - 1, 0, -1)])


def _shuffle(n: int, draws: list[int]) -> np.ndarray:
    """Fisher-Yates on 0..n-1: for i from n - 1 down to 1, swap entries i and draws[n - 1 - i]."""
    perm = list(range(n))
    for i, j in zip(range(n - 1, 0, -1), draws, strict=True):
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int32)


def transforms(key: bytes, n: int) -> np.ndarray:
    """Per printed block, a dihedral transform 0..7 (bits 0-1: quarter turns, bit 2: mirror), one stream byte each."""
    raw = stream_bytes(key, TRANSFORM_LABEL, 0, (n + 31) // 32)[:n]
    return np.frombuffer(raw, dtype=np.uint8) & 7


@dataclass(frozen=True)
class BlockMap:
    """Where every front block is printed and how it is turned: the whole secret of one certificate's back."""

    perm: np.ndarray  # printed position p shows front block perm[p]
    transform: np.ndarray  # applied to that block before printing

    @classmethod
    def derive(cls, secret: bytes, issuer: str, serial: str, sheet: Sheet = None) -> BlockMap:
        key = certificate_key(secret, issuer, serial, sheet)
        n = spec.COLS * spec.ROWS
        return cls(permutation(key, n), transforms(key, n))
