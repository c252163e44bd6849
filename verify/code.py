"""The machine-readable code on the back: a compact binary payload, signed with Ed25519, carried in a QR code.

Layout (``docs/format.md``): b"CV", version byte, five length-prefixed ASCII fields (issuer, key id, serial,
document type, issue date YYYYMMDD), from version 2 on a length-prefixed 32-byte SHA-256 of the data strip's
payload (the content fingerprint; encrypted in version 3), then the 64-byte signature over SIGN_LABEL || everything
before it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from . import spec
from .errors import BadSignature, CodeUnreadable, UnsupportedVersion
from .keys import KeyRing
from .model import CertificateFacts

MAGIC = b"CV"
SIGN_LABEL = b"certverify/v1/code\x00"
SIGNATURE_LEN = 64
DIGEST_LEN = 32
FIELD_RES = {
    "issuer": re.compile(r"^[0-9A-Z]{1,16}$"),
    "key_id": re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$"),
    "serial": re.compile(r"^[0-9A-Z][0-9A-Z-]{0,31}$"),
    "document_type": re.compile(r"^[a-z][a-z-]{0,31}$"),
}
DOCUMENT_TYPES = {"residence": "住民票の写し", "seal-registration": "印鑑登録証明書"}


@dataclass(frozen=True)
class CodePayload:
    """The fields of the code, before or after signing."""

    issuer: str
    key_id: str
    serial: str
    document_type: str
    issued_on: dt.date
    version: int = spec.FORMAT_VERSION
    content_digest: bytes = b""  # versions 2 and 3: SHA-256 of the data strip's payload

    def validate(self) -> None:
        """Raise ValueError when a field is outside the format's alphabet or length."""
        for name, pattern in FIELD_RES.items():
            value = getattr(self, name)
            if not pattern.match(value):
                raise ValueError(f"{name} {value!r} does not match {pattern.pattern}")
        if len(self.content_digest) != (DIGEST_LEN if self.version >= 2 else 0):
            raise ValueError(f"a version {self.version} code needs a {DIGEST_LEN}-byte content digest")

    def body(self) -> bytes:
        """The signed part: magic, version and the length-prefixed fields."""
        fields = [self.issuer, self.key_id, self.serial, self.document_type, self.issued_on.strftime("%Y%m%d")]
        out = bytearray(MAGIC + bytes([self.version]))
        for f in fields:
            raw = f.encode("ascii")
            out += bytes([len(raw)]) + raw
        if self.version >= 2:
            out += bytes([len(self.content_digest)]) + self.content_digest
        return bytes(out)

    def facts(self, signature: str = "valid") -> CertificateFacts:
        return CertificateFacts(self.version, self.issuer, self.key_id, self.serial, self.document_type,
                                self.issued_on, signature)


def sign_payload(payload: CodePayload, keyring: KeyRing) -> bytes:
    """The complete code bytes: body followed by the issuer's signature over it."""
    payload.validate()
    body = payload.body()
    return body + keyring.get(payload.key_id).sign(SIGN_LABEL + body)


def parse_code(data: bytes) -> tuple[CodePayload, bytes, bytes]:
    """Split code bytes into payload, signed body and signature; ``CodeUnreadable`` when malformed."""
    if len(data) < 3 or data[:2] != MAGIC:
        raise CodeUnreadable("the QR code is not a certverify code")
    version = data[2]
    if version not in spec.VERSIONS:
        raise UnsupportedVersion(f"format version {version}", version=version)
    pos, fields, content_digest = 3, [], b""
    try:
        for _ in range(5):
            n = data[pos]
            fields.append(data[pos + 1:pos + 1 + n].decode("ascii"))
            pos += 1 + n
        if version >= 2:
            n = data[pos]
            content_digest = data[pos + 1:pos + 1 + n]
            pos += 1 + n
        body, signature = data[:pos], data[pos:]
        issued_on = dt.datetime.strptime(fields[4], "%Y%m%d").date()
    except (IndexError, UnicodeDecodeError, ValueError) as exc:
        raise CodeUnreadable("the QR code's fields are malformed") from exc
    if len(signature) != SIGNATURE_LEN or len(fields[4]) != 8:
        raise CodeUnreadable("the QR code has no complete signature")
    payload = CodePayload(fields[0], fields[1], fields[2], fields[3], issued_on, version, content_digest)
    try:
        payload.validate()
    except ValueError as exc:
        raise CodeUnreadable(f"the QR code's fields are malformed: {exc}") from exc
    return payload, body, signature


def check_code(data: bytes, keyring: KeyRing) -> CodePayload:
    """Parse code bytes and check the issuer's signature: ``UnknownKey`` or ``BadSignature`` when it fails."""
    payload, body, signature = parse_code(data)
    key = keyring.get(payload.key_id)
    if not key.check(SIGN_LABEL + body, signature):
        raise BadSignature("the signature does not match the code's contents", key_id=payload.key_id,
                           serial=payload.serial)
    return payload


def qr_matrix(data: bytes) -> np.ndarray:
    """The QR symbol for ``data`` as a boolean module matrix (True = dark), without quiet zone."""
    import segno  # issuing only (the `issue` extra): verifying reads codes with zxing-cpp

    qr = segno.make(data, mode="byte", error="m", boost_error=True, micro=False)
    return np.array([[bool(v) for v in row] for row in qr.matrix], dtype=bool)
