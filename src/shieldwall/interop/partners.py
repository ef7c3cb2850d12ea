"""TAXII partners and their secrets, kept in ``DATA/partners.sqlite3`` as SHA-256 hashes.

A secret is made by :mod:`shieldwall.interop.credentials` (256 random bits) and
shown once; a fast hash is enough for a secret of that strength. Partners
authenticate with HTTP Basic (name and secret) or ``Authorization: Bearer <secret>``
(or ``Token <secret>``); reading is always allowed, writing (STIX bundles that
become the partner's signals) only with a grant.

A partner's name is also its name as an external member of the council, so it
follows the rules of member names.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from shieldwall.interop import credentials as creds
from shieldwall.interop.credentials import CredentialStore, NameTaken, Table
from shieldwall.interop.hubdb import db_path

PARTNERS_DB = "partners.sqlite3"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")  # as the hub's member names
_MAX_SECRET = 512

new_secret = creds.new_secret
hash_secret = creds.hash_secret

_TABLE = Table(
    "partners", hash_column="secret_hash", attributes={"can_write": "INTEGER NOT NULL DEFAULT 0"}
)


def partners_path(data_dir: Path) -> Path:
    """``DATA/partners.sqlite3``; ValueError when ``data_dir`` is not a hub data directory."""
    return db_path(data_dir).with_name(PARTNERS_DB)


def check_name(name: str) -> str:
    return creds.check_name(
        name,
        NAME_RE,
        "partner",
        "use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
    )


@dataclass(frozen=True, slots=True)
class Partner:
    """An authenticated partner, as the TAXII server sees it."""

    name: str
    can_write: bool = False


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    name: str
    can_write: bool
    created_at: float


def credentials(request: Request) -> tuple[str, str] | None:
    """(name, secret) from HTTP Basic, or ("", secret) from a bearer token.

    ``Token <secret>`` (what taxii2-client's ``TokenAuth`` sends) is a bearer token too.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token"):
        name, secret = "", value.strip()
    elif scheme.lower() == "basic":
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, _, secret = raw.partition(":")
    else:
        return None
    if not secret or len(secret) > _MAX_SECRET or len(name) > 64:
        return None
    return name, secret


class _Authenticator(ABC):
    """The TAXII server's ``auth``: the partner a request's credentials name, or None."""

    @abstractmethod
    def _find(self, secret: str) -> Partner | None:
        """The partner whose secret this is."""

    def check(self, name: str, secret: str) -> Partner | None:
        """The partner whose secret this is (and, when ``name`` is given, named so)."""
        partner = self._find(secret)
        if partner is None or (
            name and not hmac.compare_digest(name.encode(), partner.name.encode())
        ):
            return None
        return partner

    def __call__(self, request: Request) -> Partner | None:
        found = credentials(request)
        return None if found is None else self.check(*found)


def _check_new(name: str, secret: str) -> None:
    check_name(name)
    if len(secret) < 16:
        raise ValueError(f"the secret for partner {name!r} is too short: use 16+ characters")


def _taken(name: str) -> ValueError:
    return ValueError(f"partner {name!r} exists already: delete it first or pick another name")


class SQLitePartners(_Authenticator):
    """Partner credentials in ``DATA/partners.sqlite3``."""

    def __init__(self, path: str | Path) -> None:
        self._store = CredentialStore(path, _TABLE, synchronous="FULL")
        self.path = self._store.path

    def __repr__(self) -> str:
        return f"SQLitePartners(path={self.path!r})"

    def close(self) -> None:
        self._store.close()

    def add(self, name: str, secret: str, now: float, can_write: bool = False) -> PartnerRecord:
        _check_new(name, secret)
        try:
            self._store.add(name, secret, now, can_write=int(can_write))
        except NameTaken:
            raise _taken(name) from None
        return PartnerRecord(name, can_write, now)

    def delete(self, name: str) -> bool:
        return self._store.delete(name)

    def list(self) -> list[PartnerRecord]:
        return [
            PartnerRecord(c.name, bool(c.attributes["can_write"]), c.created_at)
            for c in self._store.list()
        ]

    def _find(self, secret: str) -> Partner | None:
        cred = self._store.check(secret)
        if cred is None:
            return None
        return Partner(cred.name, bool(cred.attributes["can_write"]))


class MemoryPartners(_Authenticator):
    """Partners held in memory (tests, embedding), checked as :class:`SQLitePartners` does."""

    def __init__(self) -> None:
        self._by_hash: dict[str, PartnerRecord] = {}

    def __repr__(self) -> str:
        return f"MemoryPartners({len(self._by_hash)} partners)"

    def add(
        self, name: str, secret: str, now: float = 0.0, can_write: bool = False
    ) -> PartnerRecord:
        _check_new(name, secret)
        hashed = hash_secret(secret)
        if hashed in self._by_hash or any(r.name == name for r in self._by_hash.values()):
            raise _taken(name)
        record = self._by_hash[hashed] = PartnerRecord(name, can_write, now)
        return record

    def _find(self, secret: str) -> Partner | None:
        record = self._by_hash.get(hash_secret(secret))
        return None if record is None else Partner(record.name, record.can_write)
