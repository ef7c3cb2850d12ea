"""The hub's settings: one registry of name, type, default and help.

Settings come from DATA/hub.toml (optional) and are checked at start-up; an unknown
key fails with the closest known name.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shieldwall.bus.base import DEFAULT_STREAM, check_bus_url, check_stream
from shieldwall.store.urls import check_store


@dataclass(frozen=True)
class HubSettings:
    max_body_bytes: int = 4 * 1024 * 1024
    max_signals_per_batch: int = 10_000
    clock_skew: float = 300.0
    max_signal_age: float = 7 * 86400.0
    tick_interval: float = 1.0
    heartbeat: float = 15.0
    stream_window: int = 100_000
    synchronous: str = "NORMAL"
    received_flush: float = 5.0
    max_pending_applicants: int = 100
    join_burst: int = 10
    join_refill: float = 60.0
    max_streams_per_member: int = 4
    replay_chunk: int = 200
    header_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections: int = 4096
    # A PostgreSQL URL may carry a password: never in repr.
    store: str = field(default="sqlite", repr=False)
    # So may a NATS URL. Empty: no bus (no replicas).
    bus: str = field(default="", repr=False)
    bus_stream: str = DEFAULT_STREAM
    lease: float = 3.0
    checkpoint_inputs: int = 10_000
    checkpoint_seconds: float = 3600.0


HELP = {
    "max_body_bytes": "largest request body accepted, in bytes",
    "max_signals_per_batch": "most signals in one signed batch",
    "clock_skew": "seconds a member's clock may differ from the hub's",
    "max_signal_age": "oldest signal accepted, in seconds (outboxes resend after outages)",
    "tick_interval": "seconds between council ticks (consultations closing, deliberations)",
    "heartbeat": "seconds between keep-alive comments on idle streams",
    "stream_window": "recent stream events kept in memory for fast resumption",
    "synchronous": "SQLite synchronous mode: NORMAL survives a killed process, FULL power loss",
    "received_flush": "seconds between ledger updates of decisions streamed to members",
    "max_pending_applicants": "join requests awaiting approval at once; more are refused",
    "join_burst": "join requests one source address may send at once (a token bucket)",
    "join_refill": "seconds for a source address to earn one more join request",
    "max_streams_per_member": "decision streams one member may hold open at once; more get 429",
    "replay_chunk": (
        "stream events sent to a resuming member before the hub serves others "
        "(smaller: fairer, larger: faster catch-up)"
    ),
    "header_timeout": (
        "seconds a client has to send a request's headers, from connecting or from the "
        "previous response (up to half again, at random); slower clients get 408 and are "
        "disconnected"
    ),
    "keep_alive": "seconds an idle connection stays open after a response",
    "max_connections": (
        "open connections the hub accepts at once; more are answered 503 and closed "
        "(the open-file limit must allow this many plus a reserve)"
    ),
    "bus": (
        "NATS JetStream URL nats://HOST:4222 the hub publishes its inputs to, for replicas "
        "('hub replica'); SHIELDWALL_BUS overrides it; empty: no bus"
    ),
    "bus_stream": "JetStream stream (and subject prefix) of this alliance on the bus",
    "lease": (
        "seconds a leader's lease lasts on a PostgreSQL store shared by several hub "
        "nodes; a standby takes over this long after the leader stops renewing it"
    ),
    "checkpoint_inputs": (
        "recorded inputs after which the hub (the leader) writes a checkpoint of the "
        "council, so a start replays only what came after it"
    ),
    "checkpoint_seconds": (
        "seconds after which the hub writes a checkpoint anyway, if anything was "
        "recorded since the last one; each checkpoint is followed by a retention pass"
    ),
    "store": (
        'where the records live: "sqlite" (DIR/hub.sqlite3) or a PostgreSQL URL '
        "postgresql://USER@HOST[:PORT]/DATABASE (set by 'hub init --store'; "
        "SHIELDWALL_STORE overrides it)"
    ),
}


def load_settings(path: Path) -> HubSettings:
    if not path.exists():
        return HubSettings()
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc}): fix the file or remove it") from None
    return settings_from(data, str(path))


def settings_from(data: dict[str, Any], source: str) -> HubSettings:
    known = {f.name: f for f in fields(HubSettings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = (
                f": did you mean {close[0]!r}?" if close else f": known keys are {', '.join(known)}"
            )
            raise ValueError(f"{source}: unknown setting {key!r}{hint}")
        default = getattr(HubSettings(), key)
        kind = type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if key == "store" and isinstance(value, str):
            values[key] = check_store(value, f"{source}: setting 'store'")
            continue
        if key == "bus" and isinstance(value, str):
            values[key] = check_bus_url(value, f"{source}: setting 'bus'") if value else ""
            continue
        if key == "bus_stream" and isinstance(value, str):
            values[key] = check_stream(value, f"{source}: setting 'bus_stream'")
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(
                f"{source}: setting {key!r} = {_shown(key, value)!r} must be a {kind.__name__} "
                f"({HELP[key]}); the default is {default!r}"
            )
        if kind in (int, float) and value <= 0:
            raise ValueError(f"{source}: setting {key!r} = {value!r} must be above zero")
        values[key] = value
    if values.get("synchronous", "NORMAL") not in ("NORMAL", "FULL"):
        raise ValueError(f'{source}: setting \'synchronous\' must be "NORMAL" or "FULL"')
    return HubSettings(**values)


def _shown(key: str, value: Any) -> Any:
    return "(hidden)" if key in ("store", "bus") else value
