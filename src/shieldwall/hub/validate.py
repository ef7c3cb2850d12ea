"""Validation of what members send, at the edge: every refusal names the value."""

from __future__ import annotations

import math
import re
from typing import Any

from shieldwall.core.addresses import parse_network
from shieldwall.core.model import Signal
from shieldwall.core.treaty import Treaty
from shieldwall.hub.errors import ApiError

SCENARIO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
BATCH_KEYS = {"member", "seq", "sent_at", "signals"}
SIGNAL_KEYS = {"target", "scenario", "at", "events"}


def bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def member_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise bad(
            f"member name {str(value)[:80]!r} is not valid: use 1-63 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return value


def addresses(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > 256:
        raise bad(
            "'addresses' must be a list of 1 to 256 IP addresses or CIDR ranges the member owns"
        )
    out = []
    for item in value:
        try:
            net = parse_network(item)
        except ValueError as exc:
            raise bad(str(exc), "invalid_address") from None
        out.append(
            net.with_prefixlen if net.prefixlen != net.max_prefixlen else str(net.network_address)
        )
    return out


def signals(
    payload: dict[str, Any],
    member: str,
    treaty: Treaty,
    now: float,
    max_count: int,
    max_age: float,
    skew: float,
) -> list[Signal]:
    extra = set(payload) - BATCH_KEYS
    if extra:
        raise bad(f"unknown field(s) {sorted(extra)} in the batch: send only {sorted(BATCH_KEYS)}")
    items = payload.get("signals")
    if not isinstance(items, list) or not items:
        raise bad("'signals' must be a non-empty list of {target, scenario, at, events} objects")
    if len(items) > max_count:
        raise ApiError(
            413, "too_large", f"batch of {len(items)} signals exceeds {max_count}: split it"
        )
    return [_signal(i, item, member, treaty, now, max_age, skew) for i, item in enumerate(items)]


def _signal(
    index: int, item: Any, member: str, treaty: Treaty, now: float, max_age: float, skew: float
) -> Signal:
    where = f"signals[{index}]"
    if not isinstance(item, dict):
        raise bad(f"{where} must be an object with target, scenario, at, events")
    extra = set(item) - SIGNAL_KEYS
    if extra:
        raise bad(f"{where} has unknown field(s) {sorted(extra)}: send only {sorted(SIGNAL_KEYS)}")
    try:
        target, _scope = treaty.check_target(item.get("target"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise bad(f"{where}: {exc}", "invalid_address") from None
    scenario = item.get("scenario")
    if not isinstance(scenario, str) or not SCENARIO.match(scenario):
        raise bad(
            f"{where}: scenario {str(scenario)[:80]!r} is not valid: use letters, digits and ._:/@+- "
            "(at most 128), e.g. 'ssh-bruteforce'"
        )
    at = item.get("at", now)
    if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
        raise bad(f"{where}: 'at' {at!r} must be a Unix time in seconds")
    if at > now + skew or at < now - max_age:
        raise bad(
            f"{where}: 'at' {at} is outside the accepted range ({max_age:.0f}s old to "
            f"{skew:.0f}s ahead): check the member's clock",
            "stale",
        )
    events = item.get("events", 1)
    if not isinstance(events, int) or isinstance(events, bool) or not 1 <= events <= 1_000_000:
        raise bad(f"{where}: 'events' {events!r} must be an integer from 1 to 1000000")
    return Signal(member, target, scenario, float(at), events)


def decision_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise bad(f"decision id {raw[:32]!r} is not a number: use an id from 'decisions list'")
    return int(raw)


def reason(payload: dict[str, Any], default: str) -> str:
    value = payload.get("reason", default)
    if not isinstance(value, str) or len(value) > 500:
        raise bad("'reason' must be a string of at most 500 characters")
    return value


def flag(payload: dict[str, Any], key: str) -> bool:
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise bad(f"'{key}' {value!r} must be true or false")
    return value
