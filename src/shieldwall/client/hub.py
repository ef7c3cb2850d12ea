"""HubClient: the member's and the operator's way to the hub's API.

A hub may run as several nodes (a leader and standbys on one PostgreSQL store): the
client is given their URLs (``http://a:8470,http://b:8470`` or a list) and uses one
at a time. When that node cannot be reached, or answers that it cannot take the
request now (no leader yet, or it cannot reach the leader), the same request goes to
the next node, each node once per request. Resending is safe: a member's changes
carry a sequence number the hub records once, and a stream resumes with
``Last-Event-ID`` from whichever node serves it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from shieldwall.client.sse import EventReader, ServerEvent, read_events
from shieldwall.signing import (
    MEMBER_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKey,
    request_message,
)

_seq_lock = threading.Lock()
_last_seq = 0


def next_seq(floor: int = 0) -> int:
    """An increasing sequence number: microseconds since the epoch, never repeated."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, floor + 1, time.time_ns() // 1000)
        return _last_seq


# Answers of a hub node that cannot take a request now, where another node may.
MOVE_ON = frozenset({"no_leader", "read_only", "primary_unreachable", "catching_up"})

# Answers no retry can change: the member's key, name or standing is wrong. An agent
# stops on them; everything else (unreachable, not yet approved, ...) is retried.
FATAL_CODES = frozenset(
    {"bad_signature", "unknown_member", "external_partner", "suspended", "rejected"}
)


class HubError(Exception):
    """The hub refused a request or could not be reached; the message says what to do."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def fatal(self) -> bool:
        """Whether retrying cannot help (wrong key, unknown, refused or suspended member)."""
        return self.code in FATAL_CODES


def hub_urls(given: str | Sequence[str]) -> tuple[str, ...]:
    """The hub's node URLs from ``"URL,URL"`` or a list; HubError naming a bad one."""
    items = given.split(",") if isinstance(given, str) else list(given)
    urls = tuple(u.strip().rstrip("/") for u in items if u.strip())
    if not urls:
        raise HubError(f"hub URL {given!r} names no hub: give http://HOST:PORT[,http://…]")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise HubError(f"hub URL {url!r} must start with http:// or https://")
    return urls


class Nodes:
    """The hub's node URLs and the one in use; shared by the clients of one member."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise HubError("no hub URL given: give http://HOST:PORT[,http://…]")
        self.urls = tuple(urls)
        self._at = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Nodes({self.urls!r})"

    @property
    def current(self) -> str:
        return self.urls[self._at]

    def failed(self, url: str) -> None:
        """``url`` could not serve: the next node is used (unless another client moved on)."""
        with self._lock:
            if self.urls[self._at] == url:
                self._at = (self._at + 1) % len(self.urls)


class HubClient:
    def __init__(
        self,
        url: str | Sequence[str],
        *,
        name: str | None = None,
        key: SigningKey | None = None,
        admin_token: str | None = None,
        read_token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        ca: Path | None = None,
        nodes: Nodes | None = None,
    ) -> None:
        self.nodes = nodes or Nodes(hub_urls(url))
        self.name = name
        self.key = key
        self._admin = admin_token
        self._read = read_token
        self._clock = clock
        self._stamp_lock = threading.Lock()
        self._last_stamp = 0  # microseconds
        self.ca = ca
        verify: ssl.SSLContext | bool = True
        if ca is not None:
            verify = ssl.create_default_context(cafile=str(ca))
        self._http = http or httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport, verify=verify
        )

    @property
    def url(self) -> str:
        """The hub node in use now."""
        return self.nodes.current

    def __repr__(self) -> str:
        return f"HubClient(url={self.url!r}, name={self.name!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        """``method path`` at the node in use; at the next node if it cannot serve."""
        failure = HubError(f"no hub node answered: {', '.join(self.nodes.urls)}")
        for _ in self.nodes.urls:
            url = self.url
            try:
                response = self._http.request(method, url + path, **kw)
            except httpx.TransportError as exc:
                failure = self._unreachable(url, exc)
                self.nodes.failed(url)
                continue
            try:
                return self._result(response)
            except HubError as exc:
                if exc.code not in MOVE_ON or len(self.nodes.urls) == 1:
                    raise
                failure = exc
                self.nodes.failed(url)
        raise failure

    @staticmethod
    def _unreachable(url: str, exc: httpx.TransportError) -> HubError:
        if isinstance(exc, httpx.TimeoutException):
            return HubError(f"hub at {url} did not answer in time: check it is running")
        if isinstance(exc, httpx.ConnectError):
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                return HubError(
                    f"hub at {url} presented a certificate this member does not trust: "
                    "pass the hub's CA certificate with --ca (agent: ca = in [agent])"
                )
            why = _connect_problem(url, str(exc))
            if why:
                return HubError(why)
        return HubError(
            f"hub at {url} is unreachable ({exc.__class__.__name__}): "
            "start it with 'shieldwall hub serve' or check --hub"
        )

    def _result(self, response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            return data
        error = (data or {}).get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            raise HubError(
                _clean(error.get("message"), 500),
                response.status_code,
                _clean(error.get("code"), 64),
            )
        raise HubError(
            f"hub answered HTTP {response.status_code} for {response.request.url.path}",
            response.status_code,
        )

    def _signed_body(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        if self.key is None or self.name is None:
            raise HubError("this needs the member's --name and --key")
        body = json.dumps(payload, separators=(",", ":")).encode()
        return body, {
            MEMBER_HEADER: self.name,
            SIGNATURE_HEADER: self.key.sign(body),
            "Content-Type": "application/json",
        }

    def _member_post(self, method: str, path: str, fields: dict[str, Any]) -> Any:
        payload = {"member": self.name, "seq": next_seq(), "sent_at": self._clock(), **fields}
        body, headers = self._signed_body(payload)
        return self._send(method, path, content=body, headers=headers)

    def _admin_headers(self) -> dict[str, str]:
        if not self._admin:
            raise HubError("this needs the secretariat's --admin-token")
        return {"Authorization": f"Bearer {self._admin}"}

    def read_headers(self, path: str) -> dict[str, str]:
        """Credentials for reading a view: the member's signature, else a token, else none."""
        if self.key is not None and self.name is not None:
            return self.stream_headers(path.partition("?")[0])
        token = self._admin or self._read
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _read_view(self, path: str, **kw: Any) -> Any:
        return self._send("GET", path, headers=self.read_headers(path), **kw)

    def _fresh_stamp(self) -> str:
        """A time stamp never used before by this client: the hub takes each stream
        stamp once, so every (re)connection signs a new one."""
        with self._stamp_lock:
            micros = max(round(self._clock() * 1_000_000), self._last_stamp + 1)
            self._last_stamp = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def stream_headers(self, path: str = "/v1/stream") -> dict[str, str]:
        if self.key is None or self.name is None:
            if self._read and not self._admin:
                return {"Authorization": f"Bearer {self._read}"}
            return self._admin_headers()
        stamp = self._fresh_stamp()
        return {
            MEMBER_HEADER: self.name,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: self.key.sign(request_message("GET", path, stamp)),
        }

    # -- membership -------------------------------------------------------------------

    def join(self, addresses: Sequence[str]) -> Any:
        if self.key is None or self.name is None:
            raise HubError("joining needs --name and --key")
        payload = {
            "name": self.name,
            "public_key": self.key.public_key,
            "addresses": list(addresses),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {SIGNATURE_HEADER: self.key.sign(body), "Content-Type": "application/json"}
        return self._send("POST", "/v1/members", content=body, headers=headers)

    def approve(self, name: str) -> Any:
        return self._send("POST", f"/v1/members/{name}/approve", headers=self._admin_headers())

    def reject(self, name: str) -> Any:
        return self._send("POST", f"/v1/members/{name}/reject", headers=self._admin_headers())

    def vote(self, applicant: str, approve: bool) -> Any:
        return self._member_post("POST", f"/v1/members/{applicant}/votes", {"approve": approve})

    def suspend(self, name: str, reason: str) -> Any:
        return self._send(
            "POST",
            f"/v1/members/{name}/suspend",
            json={"reason": reason},
            headers=self._admin_headers(),
        )

    def members(self) -> Any:
        return self._read_view("/v1/members")

    def put_policy(self, policy: dict[str, Any]) -> Any:
        return self._member_post("PUT", f"/v1/members/{self.name}/policy", {"policy": policy})

    # -- signals and decisions -------------------------------------------------------

    def submit(self, signals: Sequence[dict[str, Any]], seq: int | None = None) -> Any:
        payload = {
            "member": self.name,
            "seq": seq if seq is not None else next_seq(),
            "sent_at": self._clock(),
            "signals": list(signals),
        }
        body, headers = self._signed_body(payload)
        return self._send("POST", "/v1/signals", content=body, headers=headers)

    def invoke(self) -> Any:
        return self._member_post("POST", "/v1/invocations", {})

    def evidence(self, attacks: int | None, benign: dict[str, int]) -> Any:
        """Report exposure (``attacks`` to report since the last report; None: not
        reported) and benign events per source (at most 1000 sources a request)."""
        fields: dict[str, Any] = {"benign": benign}
        if attacks is not None:
            fields["exposure"] = {"attacks": attacks}
        return self._member_post("POST", "/v1/evidence", fields)

    def decisions(self, ip: str | None = None, member: str | None = None) -> Any:
        params = {k: v for k, v in (("ip", ip), ("member", member)) if v}
        return self._read_view("/v1/decisions", params=params)

    def alerts(self) -> Any:
        """The alerts in force (``GET /v1/alerts``): for detection, never a ban."""
        return self._read_view("/v1/alerts")

    def revoke(self, decision_id: int, reason: str, appeal: bool = False) -> Any:
        return self._send(
            "POST",
            f"/v1/decisions/{decision_id}/revoke",
            json={"reason": reason, "appeal": appeal},
            headers=self._admin_headers(),
        )

    def veto(self, decision_id: int) -> Any:
        return self._member_post("POST", f"/v1/decisions/{decision_id}/veto", {})

    def consultations(self, all_: bool = False) -> Any:
        return self._read_view("/v1/consultations", params={"all": "true"} if all_ else {})

    def treaty(self) -> Any:
        return self._read_view("/v1/treaty")

    def amend(self, text: str) -> Any:
        """Amend the treaty in force (secretariat): ``text`` is the new treaty's TOML."""
        return self._send(
            "POST",
            "/v1/treaty/amendments",
            json={"text": text},
            headers=self._admin_headers(),
        )

    def get(self, path: str) -> Any:
        return self._read_view(path)

    def stream(
        self,
        after: int | None = None,
        timeout: float | None = None,
        reader: EventReader | None = None,
    ) -> Iterator[ServerEvent]:
        """Follow the decision stream (blocking); ends when the connection does.

        ``reader`` bounds what is held (an oversized event is skipped and counted).
        """
        url = self.url
        headers = self.stream_headers()
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        try:
            with self._http.stream(
                "GET",
                url + "/v1/stream",
                headers=headers,
                timeout=httpx.Timeout(10.0, read=timeout),
            ) as response:
                if not response.is_success:
                    response.read()
                    try:
                        self._result(response)
                    except HubError as exc:
                        if exc.code in MOVE_ON:
                            self.nodes.failed(url)  # another node may serve it now
                        raise
                yield from read_events(response.iter_bytes(), reader)
        except httpx.TransportError as exc:
            self.nodes.failed(url)  # the next connection tries the next node
            raise HubError(f"stream from {url} ended ({exc.__class__.__name__})") from None


_UNRESOLVED = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "getaddrinfo failed",
)
_NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
)


def _connect_problem(url: str, error: str) -> str:
    """A precise message for a connection failure that is not the hub being down."""
    host = httpx.URL(url).host
    if any(s in error for s in _UNRESOLVED):
        return f"hub name {host!r} cannot be resolved: check the host name in --hub {url}"
    if url.startswith("https://") and any(s in error for s in _NOT_TLS):
        return (
            f"hub at {url} does not speak HTTPS: use http:// or serve the hub with "
            "--tls-cert and --tls-key"
        )
    return ""


def _clean(value: object, limit: int) -> str:
    """What the hub said, made safe to show: no control characters, bounded length."""
    text = str(value)[: limit * 2]
    return "".join(c if c.isprintable() else " " for c in text)[:limit]
