"""HubClient: the member's and the operator's way to the hub's API."""

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


class HubError(Exception):
    """The hub refused a request or could not be reached; the message says what to do."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class HubClient:
    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        key: SigningKey | None = None,
        admin_token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        ca: Path | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise HubError(f"hub URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.name = name
        self.key = key
        self._admin = admin_token
        self._clock = clock
        self.ca = ca
        verify: ssl.SSLContext | bool = True
        if ca is not None:
            verify = ssl.create_default_context(cafile=str(ca))
        self._http = http or httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport, verify=verify
        )

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
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TimeoutException:
            raise HubError(
                f"hub at {self.url} did not answer in time: check it is running"
            ) from None
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise HubError(
                    f"hub at {self.url} presented a certificate this member does not trust: "
                    "pass the hub's CA certificate with --ca (agent: ca = in [agent])"
                ) from None
            raise HubError(
                f"hub at {self.url} is unreachable ({exc.__class__.__name__}): "
                "start it with 'shieldwall hub serve' or check --hub"
            ) from None
        except httpx.TransportError as exc:
            raise HubError(
                f"hub at {self.url} is unreachable ({exc.__class__.__name__}): "
                "start it with 'shieldwall hub serve' or check --hub"
            ) from None
        return self._result(response)

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

    def stream_headers(self, path: str = "/v1/stream") -> dict[str, str]:
        if self.key is None or self.name is None:
            return self._admin_headers()
        stamp = f"{self._clock():.3f}"
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
        return self._send("GET", "/v1/members")

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

    def decisions(self, ip: str | None = None, member: str | None = None) -> Any:
        params = {k: v for k, v in (("ip", ip), ("member", member)) if v}
        return self._send("GET", "/v1/decisions", params=params)

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
        return self._send("GET", "/v1/consultations", params={"all": "true"} if all_ else {})

    def get(self, path: str) -> Any:
        return self._send("GET", path)

    def stream(
        self,
        after: int | None = None,
        timeout: float | None = None,
        reader: EventReader | None = None,
    ) -> Iterator[ServerEvent]:
        """Follow the decision stream (blocking); ends when the connection does.

        ``reader`` bounds what is held (an oversized event is skipped and counted).
        """
        headers = self.stream_headers()
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        try:
            with self._http.stream(
                "GET", "/v1/stream", headers=headers, timeout=httpx.Timeout(10.0, read=timeout)
            ) as response:
                if not response.is_success:
                    response.read()
                    self._result(response)
                yield from read_events(response.iter_bytes(), reader)
        except httpx.TransportError as exc:
            raise HubError(f"stream from {self.url} ended ({exc.__class__.__name__})") from None


def _clean(value: object, limit: int) -> str:
    """What the hub said, made safe to show: no control characters, bounded length."""
    text = str(value)[: limit * 2]
    return "".join(c if c.isprintable() else " " for c in text)[:limit]
