"""A TAXII 2.1 server over the alliance's decisions, members and signals.

Discovery at ``/taxii2/``, one API root at ``/taxii2/api/`` with one collection
(``alliance``). Objects, manifest and versions support ``added_after``, ``limit``,
``next`` and ``match[id|type|version|spec_version]``; responses carry
``X-TAXII-Date-Added-First/Last``. Partners authenticate with HTTP Basic
(name + secret) or a bearer token (the secret); writing needs a grant. Objects a
partner POSTs become signals of that partner, an external member, via
``source.submit_external``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shieldwall.interop.crowdsec_format import NAMESPACE
from shieldwall.interop.keys import NAME_RE
from shieldwall.interop.source import DecisionSource
from shieldwall.interop.stix import (
    STIX_MEDIA,
    Entry,
    collection_entries,
    parse_ts,
    signals_from,
    ts,
)

TAXII_MEDIA = "application/taxii+json;version=2.1"
COLLECTION_ID = str(uuid.uuid5(NAMESPACE, "collection:alliance"))
MAX_CONTENT = 10 * 1024 * 1024
MAX_LIMIT = 1000
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Partner:
    name: str
    can_write: bool = False


class TaxiiAuth(Protocol):
    def __call__(self, request: Request) -> Partner | None: ...


class PartnerTokens:
    """Partners and their secrets (kept as SHA-256 hashes) for Basic or bearer auth."""

    def __init__(self) -> None:
        self._by_hash: dict[str, Partner] = {}
        self._hash_by_name: dict[str, str] = {}

    def add(self, name: str, secret: str, can_write: bool = False) -> Partner:
        if not NAME_RE.match(name):
            raise ValueError(
                f"partner name {name!r} is not valid: use letters, digits, '.', '_', '-'"
            )
        if len(secret) < 16:
            raise ValueError(f"the secret for partner {name!r} is too short: use 16+ characters")
        partner = Partner(name, can_write)
        h = hashlib.sha256(secret.encode()).hexdigest()
        self._by_hash[h] = partner
        self._hash_by_name[name] = h
        return partner

    def __call__(self, request: Request) -> Partner | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        name = ""
        if scheme.lower() == "bearer":
            secret = value.strip()
        elif scheme.lower() == "basic":
            try:
                name, _, secret = (
                    base64.b64decode(value.strip(), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                return None
        else:
            return None
        if not secret or len(secret) > 512:
            return None
        h = hashlib.sha256(secret.encode()).hexdigest()
        partner = self._by_hash.get(h)
        if partner is None or (
            name and not hmac.compare_digest(self._hash_by_name.get(name, ""), h)
        ):
            return None
        return partner


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status, self.title, self.description = status, title, description


def _taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status, headers=headers, media_type=TAXII_MEDIA
    )


def _error(exc: TaxiiError) -> Response:
    body = {"title": exc.title, "description": exc.description, "http_status": str(exc.status)}
    headers = {"WWW-Authenticate": 'Basic realm="shieldwall"'} if exc.status == 401 else None
    return _taxii(body, exc.status, headers)


def _accepts_taxii(header: str) -> bool:
    if not header:
        return True
    for item in header.split(","):
        media, *params = (p.strip().lower() for p in item.split(";"))
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json":
            versions = [p.split("=", 1)[1].strip() for p in params if p.startswith("version=")]
            if not versions or versions == ["2.1"]:
                return True
    return False


def _is_taxii_content(header: str) -> bool:
    media, *params = (p.strip().lower() for p in header.split(";"))
    return media == "application/taxii+json" and all(
        p.split("=", 1)[1].strip() == "2.1" for p in params if p.startswith("version=")
    )


def _encode_next(e: Entry) -> str:
    raw = json.dumps([e.date_added, e.id, e.version]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_next(token: str) -> tuple[float, str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        added, oid, version = json.loads(raw)
        return float(added), str(oid), str(version)
    except (ValueError, TypeError, binascii.Error):
        raise TaxiiError(
            400, "bad next", f"next {token[:60]!r} is not one this server gave out"
        ) from None


class TaxiiServer:
    def __init__(self, source: DecisionSource, auth: TaxiiAuth, clock: Clock, prefix: str) -> None:
        self.source, self.auth, self.clock, self.prefix = source, auth, clock, prefix.rstrip("/")
        self.statuses: dict[str, dict[str, Any]] = {}

    # -- plumbing -----------------------------------------------------------
    def _partner(self, request: Request) -> Partner:
        partner = self.auth(request)
        if partner is None:
            raise TaxiiError(401, "unauthorized", "give HTTP Basic credentials or a bearer token")
        if not _accepts_taxii(request.headers.get("accept", "")):
            raise TaxiiError(406, "not acceptable", f"this server answers {TAXII_MEDIA} only")
        return partner

    def _collection(self, request: Request) -> None:
        if request.path_params.get("collection") != COLLECTION_ID:
            raise TaxiiError(404, "no such collection", f"the only collection is {COLLECTION_ID}")

    def _collection_info(self, partner: Partner) -> dict[str, Any]:
        return {
            "id": COLLECTION_ID,
            "title": "alliance",
            "description": "decisions (indicators), members (identities), signals (sightings)",
            "can_read": True,
            "can_write": partner.can_write,
            "media_types": [STIX_MEDIA],
        }

    def _select(self, request: Request, default_version: str = "last") -> list[Entry]:
        q = request.query_params
        since = 0.0
        added_after = q.get("added_after")
        if added_after is not None:
            try:
                since = parse_ts(added_after)
            except ValueError as exc:
                raise TaxiiError(400, "bad added_after", str(exc)) from None
        entries = collection_entries(self.source, since)
        if added_after is not None:  # compared at the millisecond precision shown to clients
            cutoff = round(since * 1000)
            entries = [e for e in entries if math.floor(e.date_added * 1000) > cutoff]
        ids = _match(q, "id")
        if ids:
            entries = [e for e in entries if e.id in ids]
        types = _match(q, "type")
        if types:
            entries = [e for e in entries if str(e.obj["type"]) in types]
        specs = _match(q, "spec_version")
        if specs and "2.1" not in specs:
            entries = []
        return _versions(entries, _match(q, "version") or {default_version})

    def _page(self, request: Request, entries: list[Entry]) -> tuple[list[Entry], bool, str]:
        q = request.query_params
        token = q.get("next")
        if token:
            key = _decode_next(token)
            entries = [e for e in entries if (e.date_added, e.id, e.version) > key]
        try:
            limit = int(q.get("limit", MAX_LIMIT))
        except ValueError:
            raise TaxiiError(
                400, "bad limit", f"limit {q.get('limit')!r} is not a number"
            ) from None
        if limit < 1:
            raise TaxiiError(400, "bad limit", f"limit {limit} must be at least 1")
        limit = min(limit, MAX_LIMIT)
        page, more = entries[:limit], len(entries) > limit
        return page, more, _encode_next(page[-1]) if more else ""

    @staticmethod
    def _headers(page: list[Entry]) -> dict[str, str]:
        if not page:
            return {}
        return {
            "X-TAXII-Date-Added-First": ts(page[0].date_added),
            "X-TAXII-Date-Added-Last": ts(page[-1].date_added),
        }

    def _handle(self, fn: Callable[[Request], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                if request.method == "POST":
                    request.state.body = await _read_body(request)
                return fn(request)
            except TaxiiError as exc:
                return _error(exc)

        return endpoint

    # -- endpoints ----------------------------------------------------------
    def discovery(self, request: Request) -> Response:
        self._partner(request)
        root = str(request.base_url).rstrip("/") + self.prefix + "/api/"
        return _taxii(
            {
                "title": "shieldwall alliance",
                "description": "alliance decisions as STIX 2.1 over TAXII 2.1",
                "default": root,
                "api_roots": [root],
            }
        )

    def api_root(self, request: Request) -> Response:
        self._partner(request)
        return _taxii(
            {
                "title": "shieldwall alliance",
                "versions": [TAXII_MEDIA],
                "max_content_length": MAX_CONTENT,
            }
        )

    def collections(self, request: Request) -> Response:
        partner = self._partner(request)
        return _taxii({"collections": [self._collection_info(partner)]})

    def collection(self, request: Request) -> Response:
        partner = self._partner(request)
        self._collection(request)
        return _taxii(self._collection_info(partner))

    def get_objects(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        page, more, nxt = self._page(request, self._select(request))
        body: dict[str, Any] = {"more": more, "objects": [e.obj for e in page]}
        if nxt:
            body["next"] = nxt
        return _taxii(body, headers=self._headers(page))

    def get_object(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        oid = request.path_params["object_id"]
        entries = [e for e in self._select(request) if e.id == oid]
        if not entries:
            raise TaxiiError(
                404, "no such object", f"object {oid[:100]!r} is not in this collection"
            )
        page, more, nxt = self._page(request, entries)
        body: dict[str, Any] = {"more": more, "objects": [e.obj for e in page]}
        if nxt:
            body["next"] = nxt
        return _taxii(body, headers=self._headers(page))

    def versions(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        oid = request.path_params["object_id"]
        entries = [e for e in self._select(request, default_version="all") if e.id == oid]
        if not entries:
            raise TaxiiError(
                404, "no such object", f"object {oid[:100]!r} is not in this collection"
            )
        page, more, nxt = self._page(request, entries)
        body: dict[str, Any] = {"more": more, "versions": [e.version for e in page]}
        if nxt:
            body["next"] = nxt
        return _taxii(body, headers=self._headers(page))

    def manifest(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        page, more, nxt = self._page(request, self._select(request))
        rows = [
            {
                "id": e.id,
                "date_added": ts(e.date_added),
                "version": e.version,
                "media_type": STIX_MEDIA,
            }
            for e in page
        ]
        body: dict[str, Any] = {"more": more, "objects": rows}
        if nxt:
            body["next"] = nxt
        return _taxii(body, headers=self._headers(page))

    def add_objects(self, request: Request) -> Response:
        partner = self._partner(request)
        self._collection(request)
        if not partner.can_write:
            raise TaxiiError(403, "forbidden", f"partner {partner.name!r} may read but not write")
        if not _is_taxii_content(request.headers.get("content-type", "")):
            raise TaxiiError(415, "unsupported media type", f"send {TAXII_MEDIA}")
        try:
            envelope = json.loads(request.state.body)
        except (ValueError, UnicodeDecodeError):
            raise TaxiiError(400, "bad envelope", "the body is not JSON") from None
        objects = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(objects, list):
            raise TaxiiError(400, "bad envelope", 'send a TAXII envelope: {"objects": [...]}')
        now = self.clock()
        signals, failures, accepted = signals_from(objects, partner.name, now)
        submitted = self.source.submit_external(partner.name, signals, now) if signals else None
        status_id = str(uuid.uuid4())
        failed = [{"id": i, "message": m} for i, m in list(failures.items())[:1000]]
        if submitted is not None:
            failed.extend({"id": "signals", "message": m} for m in submitted.rejected[:100])
        status: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": ts(now),
            "total_count": len(objects),
            "success_count": len(accepted),
            "failure_count": len(failures),
            "pending_count": 0,
            "successes": [{"id": i} for i in accepted[:1000]],
            "failures": [{"id": i, "message": m} for i, m in list(failures.items())[:1000]],
        }
        if submitted is not None and submitted.rejected:
            status["failures"].extend(
                {"id": "signals", "message": m} for m in submitted.rejected[:100]
            )
        if len(self.statuses) > 1000:
            self.statuses.pop(next(iter(self.statuses)))
        self.statuses[status_id] = {"owner": partner.name, **status}
        return _taxii(status, 202)

    def status(self, request: Request) -> Response:
        partner = self._partner(request)
        found = self.statuses.get(request.path_params["status_id"])
        if found is None or found["owner"] != partner.name:
            raise TaxiiError(
                404, "no such status", "status resources live for the last 1000 requests"
            )
        return _taxii({k: v for k, v in found.items() if k != "owner"})


async def _read_body(request: Request) -> bytes:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_CONTENT:
        raise TaxiiError(413, "too large", f"send at most {MAX_CONTENT} bytes a request")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_CONTENT:
            raise TaxiiError(413, "too large", f"send at most {MAX_CONTENT} bytes a request")
        chunks.append(chunk)
    return b"".join(chunks)


def _match(q: Any, name: str) -> set[str]:
    raw = ",".join(q.getlist(f"match[{name}]"))
    return {v.strip() for v in raw.split(",") if v.strip()}


def _versions(entries: list[Entry], wanted: set[str]) -> list[Entry]:
    if "all" in wanted:
        return entries
    by_id: dict[str, list[Entry]] = {}
    for e in entries:
        by_id.setdefault(e.id, []).append(e)
    keep: set[int] = set()
    for group in by_id.values():
        ordered = sorted(group, key=lambda e: e.version)
        if "last" in wanted:
            keep.add(id(ordered[-1]))
        if "first" in wanted:
            keep.add(id(ordered[0]))
        keep.update(id(e) for e in group if e.version in wanted)
    return [e for e in entries if id(e) in keep]


def taxii_routes(
    source: DecisionSource, auth: TaxiiAuth, clock: Clock = time.time, prefix: str = "/taxii2"
) -> list[Route]:
    """The TAXII 2.1 routes, under ``prefix`` (default ``/taxii2``)."""
    s = TaxiiServer(source, auth, clock, prefix)
    col = f"{prefix}/api/collections/{{collection}}"
    h = s._handle
    return [
        Route(f"{prefix}/", h(s.discovery), methods=["GET"]),
        Route(f"{prefix}/api/", h(s.api_root), methods=["GET"]),
        Route(f"{prefix}/api/collections/", h(s.collections), methods=["GET"]),
        Route(f"{col}/", h(s.collection), methods=["GET"]),
        Route(f"{col}/objects/", h(s.get_objects), methods=["GET"]),
        Route(f"{col}/objects/", h(s.add_objects), methods=["POST"]),
        Route(f"{col}/objects/{{object_id}}/", h(s.get_object), methods=["GET"]),
        Route(f"{col}/objects/{{object_id}}/versions/", h(s.versions), methods=["GET"]),
        Route(f"{col}/manifest/", h(s.manifest), methods=["GET"]),
        Route(f"{prefix}/api/status/{{status_id}}/", h(s.status), methods=["GET"]),
    ]
