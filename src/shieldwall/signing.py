"""Ed25519 identities of members: key files, signing and verifying request bodies.

A member signs the exact bytes of each request body it sends. Headers carry the
member's name and the signature; the body carries a per-member increasing sequence
number and the time it was sent, which the hub checks against replay and staleness.
Signatures over GET requests (the decision stream) cover ``METHOD PATH TIMESTAMP``.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

MEMBER_HEADER = "X-Shieldwall-Member"
SIGNATURE_HEADER = "X-Shieldwall-Signature"
TIMESTAMP_HEADER = "X-Shieldwall-Timestamp"
KEY_PREFIX = "shieldwall-ed25519-private:"


class SigningKey:
    """A member's private key. Its ``repr`` never shows the key material."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = encode_public(key.public_key())

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._key.sign(data)).decode("ascii")

    def private_text(self) -> str:
        raw = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return KEY_PREFIX + base64.b64encode(raw).decode("ascii")

    def save(self, path: Path) -> None:
        """Write the key with mode 0600, refusing to overwrite an existing file."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.private_text() + "\n")

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        try:
            text = Path(path).read_text().strip()
        except FileNotFoundError:
            raise ValueError(
                f"key file {str(path)!r} does not exist: create one with 'shieldwall keygen {path}'"
            ) from None
        except OSError as exc:
            raise ValueError(f"key file {str(path)!r} cannot be read: {exc.strerror}") from None
        if not text.startswith(KEY_PREFIX):
            raise ValueError(
                f"key file {str(path)!r} is not a shieldwall private key: "
                "create one with 'shieldwall keygen FILE'"
            )
        try:
            raw = base64.b64decode(text[len(KEY_PREFIX) :], validate=True)
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except (binascii.Error, ValueError):
            raise ValueError(
                f"key file {str(path)!r} is damaged: create a new key with 'shieldwall keygen'"
            ) from None


def encode_public(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def parse_public(text: str) -> Ed25519PublicKey:
    """Parse a base64 Ed25519 public key; ValueError names the value otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
        if len(raw) != 32:
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError, TypeError):
        shown = text if isinstance(text, str) and len(text) <= 64 else "<value>"
        raise ValueError(
            f"public key {shown!r} is not a base64 Ed25519 public key: "
            "use the one printed by 'shieldwall keygen'"
        ) from None


def verify(public: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(sig) != 64:
        return False
    try:
        public.verify(sig, data)
    except InvalidSignature:
        return False
    return True


def request_message(method: str, path: str, timestamp: str) -> bytes:
    """What a member signs for a request without a body."""
    return f"{method.upper()} {path} {timestamp}".encode()
