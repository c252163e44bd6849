"""The key ring: issuing keys by id, each a scramble secret and an Ed25519 key pair, read from a directory.

One JSON file per key id, ``<key_id>.json``, owner-only permissions. A verifying site may hold keys without the
private signing half; an issuer needs it. Several ids at once let keys rotate: the code on every back names its id.
A key file may also name the issuers it signs for (``"issuers": {"131016": "東京都台東区"}``): the name a reader
sees beside the code, taken from the site's own ring and shown only for backs that key signed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import ConfigurationError, UnknownKey

KEY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
ISSUER_RE = re.compile(r"^[0-9A-Z]{1,16}$")  # as the code carries it (verify.code)
MAX_ISSUER_NAME = 64
ENV_KEYS_DIR = "CERTVERIFY_KEYS_DIR"


@dataclass(frozen=True)
class IssuingKey:
    """One key id: the scramble secret and the signature key pair."""

    key_id: str
    scramble_secret: bytes
    verify_key: bytes  # Ed25519 public key, 32 bytes
    signing_key: bytes | None = None  # Ed25519 private seed, 32 bytes; absent on a verifying-only ring
    created: str = ""
    issuers: tuple[tuple[str, str], ...] = ()  # (issuer code, display name) of the issuers this key signs for

    def issuer_name(self, code: str) -> str | None:
        """The display name this ring gives the issuer ``code`` under this key, if any."""
        return dict(self.issuers).get(code)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``; needs the private half."""
        if self.signing_key is None:
            raise ConfigurationError(f"key {self.key_id} has no signing half on this machine")
        return Ed25519PrivateKey.from_private_bytes(self.signing_key).sign(message)

    def check(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.verify_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_json(self, include_private: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key_id": self.key_id,
            "created": self.created,
            "scramble_secret": self.scramble_secret.hex(),
            "verify_key": self.verify_key.hex(),
        }
        if include_private and self.signing_key is not None:
            out["signing_key"] = self.signing_key.hex()
        if self.issuers:
            out["issuers"] = dict(self.issuers)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuingKey:
        key_id = data["key_id"]
        if not KEY_ID_RE.match(key_id):
            raise ValueError(f"invalid key id {key_id!r}")
        secret = bytes.fromhex(data["scramble_secret"])
        verify_key = bytes.fromhex(data["verify_key"])
        signing = bytes.fromhex(data["signing_key"]) if data.get("signing_key") else None
        if len(secret) != 32 or len(verify_key) != 32 or (signing is not None and len(signing) != 32):
            raise ValueError(f"key {key_id}: secrets must be 32 bytes")
        if signing is not None:
            derived = Ed25519PrivateKey.from_private_bytes(signing).public_key().public_bytes_raw()
            if derived != verify_key:
                raise ValueError(f"key {key_id}: signing and verify keys do not match")
        return cls(key_id, secret, verify_key, signing, data.get("created", ""),
                   _issuers(key_id, data.get("issuers") or {}))

    @classmethod
    def generate(cls, key_id: str, issuers: dict[str, str] | None = None) -> IssuingKey:
        """A fresh key with secrets from the operating system's CSPRNG, naming ``issuers`` (code: name)."""
        if not KEY_ID_RE.match(key_id):
            raise ValueError(f"invalid key id {key_id!r}: use 1-32 of a-z, 0-9 and '-'")
        private = Ed25519PrivateKey.generate()
        return cls(
            key_id=key_id,
            scramble_secret=secrets.token_bytes(32),
            verify_key=private.public_key().public_bytes_raw(),
            signing_key=private.private_bytes_raw(),
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            issuers=_issuers(key_id, issuers or {}),
        )


def _issuers(key_id: str, names: Any) -> tuple[tuple[str, str], ...]:
    """A key file's issuer names, checked: codes as the code carries them, short printable names."""
    if not isinstance(names, dict):
        raise ValueError(f"key {key_id}: issuers must map issuer codes to names")
    for code, name in names.items():
        if not isinstance(code, str) or not ISSUER_RE.match(code):
            raise ValueError(f"key {key_id}: issuer code {code!r} is not 1-16 of 0-9 and A-Z")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_ISSUER_NAME or not name.isprintable():
            raise ValueError(f"key {key_id}: the name of issuer {code} must be 1-{MAX_ISSUER_NAME} printable characters")
    return tuple(sorted((code, name.strip()) for code, name in names.items()))


class KeyRing:
    """Issuing keys by id."""

    def __init__(self, keys: list[IssuingKey] | None = None) -> None:
        self._keys: dict[str, IssuingKey] = {k.key_id: k for k in keys or []}

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def ids(self) -> list[str]:
        return sorted(self._keys)

    def get(self, key_id: str) -> IssuingKey:
        """The key named ``key_id``, or ``UnknownKey``."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(f"no key with id {key_id!r} on this site", key_id=key_id) from None

    def add(self, key: IssuingKey) -> None:
        self._keys[key.key_id] = key

    def default_signing_key(self) -> IssuingKey:
        """The newest key that can sign: the one new certificates are issued with."""
        signing = [k for k in self._keys.values() if k.signing_key is not None]
        if not signing:
            raise ConfigurationError("the key ring has no key that can sign; run `python -m verify keys init`")
        return max(signing, key=lambda k: (k.created, k.key_id))

    @staticmethod
    def default_path() -> Path:
        """The ring's directory: ``$CERTVERIFY_KEYS_DIR`` or ``keys/``."""
        return Path(os.environ.get(ENV_KEYS_DIR) or "keys")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> KeyRing:
        """Read every ``*.json`` key file in the directory ``path``."""
        root = Path(path) if path is not None else cls.default_path()
        if not root.is_dir():
            raise ConfigurationError(f"key ring directory {root} does not exist; run `python -m verify keys init`")
        keys = []
        for file in sorted(root.glob("*.json")):
            try:
                keys.append(IssuingKey.from_json(json.loads(file.read_text("utf-8"))))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"key file {file.name} is invalid: {exc}") from exc
        return cls(keys)

    def save(self, path: str | os.PathLike[str], key: IssuingKey) -> Path:
        """Write ``key`` into the ring directory with owner-only permissions, and add it to this ring."""
        root = Path(path)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        file = root / f"{key.key_id}.json"
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(key.to_json(), out, indent=2, ensure_ascii=False)
            out.write("\n")
        self.add(key)
        return file


def init_ring(path: str | os.PathLike[str] | None = None, key_id: str | None = None,
              issuers: dict[str, str] | None = None) -> tuple[KeyRing, IssuingKey | None]:
    """Create a development ring with one new key if ``path`` holds none; returns the ring and the new key, which
    names ``issuers`` (code: display name)."""
    root = Path(path) if path is not None else KeyRing.default_path()
    ring = KeyRing.load(root) if root.is_dir() else KeyRing()
    if len(ring) and key_id is None:
        return ring, None
    key = IssuingKey.generate(key_id or f"dev-{dt.date.today():%Y}", issuers)
    ring.save(root, key)
    return ring, key
