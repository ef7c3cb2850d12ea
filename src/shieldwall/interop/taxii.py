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
import inspect
import json
import math
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shieldwall import strictjson
from shieldwall.interop.crowdsec_format import NAMESPACE
from shieldwall.interop.partners import Partner
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
MAX_OBJECTS = 5000  # per POST; checking them takes about 2.5 s
MAX_LIMIT = 1000
MAX_STATUSES = 256  # status resources kept, oldest dropped first
MAX_DETAILS = 1000  # successes / failures listed in one status (the counts are exact)
Clock = Callable[[], float]


class TaxiiAuth(Protocol):
    def __call__(self, request: Request) -> Partner | None: ...


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
        added, oid, version = strictjson.loads(raw)
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
        raw = q.get("limit", str(MAX_LIMIT))
        # ASCII digits only: int() would also read '١' or ' 5_0 '.
        if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) < 1:
            raise TaxiiError(
                400, "bad limit", f"limit {raw[:40]!r} must be a whole number of at least 1"
            )
        limit = min(int(raw), MAX_LIMIT)
        page, more = entries[:limit], len(entries) > limit
        return page, more, _encode_next(page[-1]) if more else ""

    def _listing(
        self, request: Request, entries: list[Entry], key: str, item: Callable[[Entry], Any]
    ) -> Response:
        """One page of ``entries`` as ``{"more", "next"?, key: [...]}``, with the date headers."""
        page, more, nxt = self._page(request, entries)
        body: dict[str, Any] = {"more": more, key: [item(e) for e in page]}
        if nxt:
            body["next"] = nxt
        headers = {}
        if page:
            headers = {
                "X-TAXII-Date-Added-First": ts(page[0].date_added),
                "X-TAXII-Date-Added-Last": ts(page[-1].date_added),
            }
        return _taxii(body, headers=headers)

    def _object(self, request: Request, default_version: str) -> list[Entry]:
        """The versions of the object named in the path; 404 when it has none."""
        oid = request.path_params["object_id"]
        entries = [e for e in self._select(request, default_version) if e.id == oid]
        if not entries:
            raise TaxiiError(
                404, "no such object", f"object {oid[:100]!r} is not in this collection"
            )
        return entries

    def _handle(self, fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                response = fn(request)
                if inspect.isawaitable(response):
                    response = await response
                return cast(Response, response)
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
        return self._listing(request, self._select(request), "objects", _obj)

    def get_object(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        return self._listing(request, self._object(request, "last"), "objects", _obj)

    def versions(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        return self._listing(request, self._object(request, "all"), "versions", _version)

    def manifest(self, request: Request) -> Response:
        self._partner(request)
        self._collection(request)
        return self._listing(request, self._select(request), "objects", _manifest_row)

    async def add_objects(self, request: Request) -> Response:
        partner = self._partner(request)
        self._collection(request)
        if not partner.can_write:
            raise TaxiiError(403, "forbidden", f"partner {partner.name!r} may read but not write")
        if not _is_taxii_content(request.headers.get("content-type", "")):
            raise TaxiiError(415, "unsupported media type", f"send {TAXII_MEDIA}")
        objects = _envelope_objects(await _read_body(request))
        now = self.clock()
        # Checking STIX is slow (about 0.5 ms an object): off the event loop.
        intake = await run_in_threadpool(signals_from, objects, partner.name, now)
        if intake.signals:
            submitted = self.source.submit_external(partner.name, intake.signals, now)
            for index, message in submitted.rejected:
                intake.reject(index, message)
        status_id = str(uuid.uuid4())
        ok = [r for r in intake.objects if not r.problems]
        failed = [r for r in intake.objects if r.problems]
        status: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": ts(now),
            "total_count": len(intake.objects),
            "success_count": len(ok),
            "failure_count": len(failed),
            "pending_count": 0,
            "successes": [r.detail() for r in ok[:MAX_DETAILS]],
            "failures": [r.detail() for r in failed[:MAX_DETAILS]],
        }
        while len(self.statuses) >= MAX_STATUSES:
            self.statuses.pop(next(iter(self.statuses)))
        self.statuses[status_id] = {"owner": partner.name, **status}
        return _taxii(status, 202)

    def status(self, request: Request) -> Response:
        partner = self._partner(request)
        found = self.statuses.get(request.path_params["status_id"])
        if found is None or found["owner"] != partner.name:
            raise TaxiiError(
                404,
                "no such status",
                f"status resources live for the last {MAX_STATUSES} requests",
            )
        return _taxii({k: v for k, v in found.items() if k != "owner"})


async def _read_body(request: Request) -> bytes:
    too_large = TaxiiError(413, "too large", f"send at most {MAX_CONTENT} bytes a request")
    declared = request.headers.get("content-length") or "0"
    if not declared.isascii() or not declared.isdigit():
        raise TaxiiError(400, "bad request", f"content-length {declared[:40]!r} is not a number")
    if int(declared) > MAX_CONTENT:
        raise too_large
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_CONTENT:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _envelope_objects(body: bytes) -> list[Any]:
    """The ``objects`` of a TAXII envelope; TaxiiError naming what is wrong."""
    try:
        envelope = strictjson.loads(body)
    except strictjson.JsonError as exc:
        raise TaxiiError(400, "bad envelope", str(exc)) from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise TaxiiError(400, "bad envelope", 'send a TAXII envelope: {"objects": [...]}')
    if len(objects) > MAX_OBJECTS:
        raise TaxiiError(
            413,
            "too many objects",
            f"the envelope holds {len(objects)} objects: send at most {MAX_OBJECTS} a request",
        )
    return objects


def _obj(e: Entry) -> Any:
    return e.obj


def _version(e: Entry) -> str:
    return e.version


def _manifest_row(e: Entry) -> dict[str, str]:
    return {
        "id": e.id,
        "date_added": ts(e.date_added),
        "version": e.version,
        "media_type": STIX_MEDIA,
    }


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
