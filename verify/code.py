"""The machine-readable code on the back: a compact binary payload, signed with Ed25519, carried in a QR code.

Layout (``docs/format.md``): b"CV", version byte, five length-prefixed ASCII fields (issuer, key id, serial,
document type, issue date YYYYMMDD), from version 2 on a length-prefixed 32-byte SHA-256 of the data strip's
payload (the content fingerprint; encrypted from version 3 on), from version 4 on the sheet's number and the number of
sheets of its certificate (one byte each), then the 64-byte signature over SIGN_LABEL || everything before it.
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
MAX_SHEETS = 255  # one byte
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
    content_digest: bytes = b""  # from version 2: SHA-256 of the data strip's payload
    sheet: int = 1  # from version 4: this sheet's number (from 1) and the number of sheets of the certificate
    sheets: int = 1

    @property
    def sheet_of(self) -> tuple[int, int] | None:
        """(sheet, sheets) where the code carries them (version 4 on); None for earlier versions, which do not."""
        return (self.sheet, self.sheets) if self.version >= 4 else None

    def validate(self) -> None:
        """Raise ValueError when a field is outside the format's alphabet or length."""
        for name, pattern in FIELD_RES.items():
            value = getattr(self, name)
            if not pattern.match(value):
                raise ValueError(f"{name} {value!r} does not match {pattern.pattern}")
        if len(self.content_digest) != (DIGEST_LEN if self.version >= 2 else 0):
            raise ValueError(f"a version {self.version} code needs a {DIGEST_LEN}-byte content digest")
        if not 1 <= self.sheet <= self.sheets <= MAX_SHEETS:
            raise ValueError(f"sheet {self.sheet} of {self.sheets}: a certificate has 1 to {MAX_SHEETS} sheets")
        if self.version < 4 and self.sheets != 1:
            raise ValueError(f"a version {self.version} code carries no sheet number: issue format v4")

    def body(self) -> bytes:
        """The signed part: magic, version and the length-prefixed fields."""
        fields = [self.issuer, self.key_id, self.serial, self.document_type, self.issued_on.strftime("%Y%m%d")]
        out = bytearray(MAGIC + bytes([self.version]))
        for f in fields:
            raw = f.encode("ascii")
            out += bytes([len(raw)]) + raw
        if self.version >= 2:
            out += bytes([len(self.content_digest)]) + self.content_digest
        if self.version >= 4:
            out += bytes([self.sheet, self.sheets])
        return bytes(out)

    def facts(self, signature: str = "valid") -> CertificateFacts:
        sheet, sheets = self.sheet_of or (None, None)
        return CertificateFacts(self.version, self.issuer, self.key_id, self.serial, self.document_type,
                                self.issued_on, signature, sheet=sheet, sheets=sheets)


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
    pos, fields, content_digest, sheet, sheets = 3, [], b"", 1, 1
    try:
        for _ in range(5):
            n = data[pos]
            fields.append(data[pos + 1:pos + 1 + n].decode("ascii"))
            pos += 1 + n
        if version >= 2:
            n = data[pos]
            content_digest = data[pos + 1:pos + 1 + n]
            pos += 1 + n
        if version >= 4:
            sheet, sheets = data[pos], data[pos + 1]
            pos += 2
        body, signature = data[:pos], data[pos:]
        issued_on = dt.datetime.strptime(fields[4], "%Y%m%d").date()
    except (IndexError, UnicodeDecodeError, ValueError) as exc:
        raise CodeUnreadable("the QR code's fields are malformed") from exc
    if len(signature) != SIGNATURE_LEN or len(fields[4]) != 8:
        raise CodeUnreadable("the QR code has no complete signature")
    payload = CodePayload(fields[0], fields[1], fields[2], fields[3], issued_on, version, content_digest, sheet, sheets)
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
