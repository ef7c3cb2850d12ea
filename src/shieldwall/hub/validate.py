"""Validation of what members send, at the edge: every refusal names the value."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from shieldwall.core.addresses import parse_network
from shieldwall.core.model import Signal
from shieldwall.core.treaty import Treaty
from shieldwall.hub.errors import ApiError

SCENARIO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
BATCH_KEYS = {"member", "seq", "sent_at", "signals"}
SIGNAL_KEYS = {"target", "scenario", "at", "events"}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Every integer the hub stores fits SQL's BIGINT.
MAX_INT64 = 2**63 - 1
# A member's local policy as it reports it (the agent's is well under 4 KB).
MAX_POLICY_BYTES = 32 * 1024
POLICY_KEYS = {"member", "seq", "sent_at", "policy"}
EVIDENCE_KEYS = {"member", "seq", "sent_at", "exposure", "benign"}
EXPOSURE_KEYS = {"attacks"}
# Most sources with benign counts in one report, and the bounds of each count.
MAX_BENIGN_SOURCES = 1000
MAX_BENIGN_COUNT = 1_000_000_000
MAX_EXPOSURE = 1_000_000


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
        target = treaty.check_target(item.get("target")).text  # type: ignore[arg-type]
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


def ascii_int(raw: str) -> int | None:
    """``raw`` as an integer from 0 to :data:`MAX_INT64`, or None.

    Only ASCII digits count: ``str.isdigit`` and ``int`` also take '²' or '١'.
    """
    if not raw or len(raw) > 19 or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= MAX_INT64 else None


def decision_id(raw: str) -> int:
    value = ascii_int(raw)
    if value is None:
        raise bad(
            f"decision id {raw[:32]!r} is not a decision number (1 to {MAX_INT64}): "
            "use an id from 'decisions list'"
        )
    return value


def event_id(raw: str, where: str) -> int:
    value = ascii_int(raw)
    if value is None:
        raise bad(
            f"{where} {raw[:32]!r} is not an event id (0 to {MAX_INT64}): "
            "resume from the id of the last event received"
        )
    return value


def policy(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``policy`` object of a signed report (strict JSON already: no NaN, no Infinity)."""
    extra = set(payload) - POLICY_KEYS
    if extra:
        raise bad(
            f"unknown field(s) {sorted(extra)[:8]} in the report: send only {sorted(POLICY_KEYS)}"
        )
    value = payload.get("policy")
    if not isinstance(value, dict):
        raise bad("'policy' must be an object describing the local policy")
    size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    if size > MAX_POLICY_BYTES:
        raise ApiError(
            413,
            "too_large",
            f"'policy' of {size} bytes exceeds {MAX_POLICY_BYTES}: report the policy's "
            "settings, not the lists it is built from",
        )
    return value


def evidence(payload: dict[str, Any], treaty: Treaty) -> tuple[int | None, dict[str, int]]:
    """A member's report of its exposure (attacks it had to report) and benign counts.

    Returns the attack count (None when the report has no ``exposure``) and the benign
    events per canonical target (duplicates of one target summed).
    """
    extra = set(payload) - EVIDENCE_KEYS
    if extra:
        raise bad(
            f"unknown field(s) {sorted(extra)[:8]} in the report: send only {sorted(EVIDENCE_KEYS)}"
        )
    if "exposure" not in payload and "benign" not in payload:
        raise bad("the report needs 'exposure', 'benign' or both")
    exposure = None
    if "exposure" in payload:
        value = payload["exposure"]
        if not isinstance(value, dict) or set(value) != EXPOSURE_KEYS:
            raise bad("'exposure' must be an object {\"attacks\": N}, N the attacks to report")
        exposure = _count(value["attacks"], "exposure.attacks", 0, MAX_EXPOSURE)
    raw = payload.get("benign", {})
    if not isinstance(raw, dict):
        raise bad("'benign' must be an object mapping source addresses to counts of events")
    if len(raw) > MAX_BENIGN_SOURCES:
        raise ApiError(
            413,
            "too_large",
            f"'benign' has {len(raw)} sources, more than {MAX_BENIGN_SOURCES}: split the report",
        )
    benign: dict[str, int] = {}
    for key, count in raw.items():
        try:
            target = treaty.check_target(key).text
        except ValueError as exc:
            raise bad(f"benign[{key[:64]!r}]: {exc}", "invalid_address") from None
        n = _count(count, f"benign[{key[:64]!r}]", 1, MAX_BENIGN_COUNT)
        benign[target] = min(benign.get(target, 0) + n, MAX_BENIGN_COUNT)
    return exposure, benign


def _count(value: Any, where: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise bad(f"{where} {repr(value)[:32]} must be a whole number from {lo} to {hi}")
    return value


def shown_policy(value: Any) -> dict[str, Any] | None:
    """A stored policy as the API shows it; None if it is not a standard JSON object."""
    if not isinstance(value, dict):
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return value


def query_int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in ASCII digits from ``lo`` to ``hi``."""
    raw = query.get(name)
    if raw is None:
        return default
    value = ascii_int(raw)
    if value is None or not lo <= value <= hi:
        raise bad(f"{name} {raw[:32]!r} must be a whole number from {lo} to {hi}")
    return value


def query_flag(query: Mapping[str, str], name: str) -> bool:
    """A true/false query parameter (absent: false)."""
    raw = query.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise bad(f"{name} {raw[:32]!r} must be true or false")


def query_networks(query: Mapping[str, str], *names: str) -> list[Network]:
    """Every address parameter of ``names`` that is given, parsed (an empty one is refused)."""
    out = []
    for name in names:
        raw = query.get(name)
        if raw is None:
            continue
        try:
            if raw != raw.strip():
                raise ValueError(f"address {raw[:64]!r} has spaces around it: remove them")
            out.append(parse_network(raw))
        except (ValueError, TypeError) as exc:
            raise bad(f"{name}: {exc}", "invalid_address") from None
    return out


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
