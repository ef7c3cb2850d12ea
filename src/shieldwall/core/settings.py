"""The treaty's settings registry: every section and key, its type, default and meaning.

One table drives loading (strict: unknown keys fail with advice), defaults and the
documentation. Values are converted here; rules that relate several keys live in
:mod:`shieldwall.core.treaty`.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from shieldwall.core.addresses import parse_network
from shieldwall.core.model import ACTIONS
from shieldwall.core.special import CHOOSABLE, DEFAULT_ALLOWED, check_allowed

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One treaty key: ``kind`` picks the converter; ``lo``/``hi`` bound numbers."""

    kind: str
    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    example: str = ""


def _k(kind: str, default: Any, help: str, **kw: Any) -> Key:
    return Key(kind, default, help, **kw)


SCHEMA: dict[str, dict[str, Key]] = {
    "treaty": {
        "name": _k("name", REQUIRED, "name of the alliance's treaty", example='"nato"'),
        "version": _k("int", REQUIRED, "integer raised on every amendment", lo=1, example="1"),
        "description": _k("str", "", "one line for humans"),
    },
    "accession": {
        "mode": _k(
            "choice",
            "admin",
            "who admits applicants: the secretariat (admin), a majority or all active members",
            choices=("admin", "majority", "unanimity"),
        ),
    },
    "collective": {
        "mode": _k(
            "choice",
            "automatic",
            "automatic: binding decisions on quorum; recommend: decisions are advice; "
            "none: each member defends itself",
            choices=("automatic", "recommend", "none"),
        ),
        "quorum": _k("int", 2, "distinct trusted members reporting one target", lo=1, hi=1000),
        "window": _k("duration", 900.0, "how long a report counts toward quorum", lo=1),
        "reputation_threshold": _k(
            "float", 0.5, "reputation a member needs for its report to count", lo=0, hi=1
        ),
        "unanimity": _k(
            "bool", False, "every active member in good standing (at least 2) must report"
        ),
        "deliberation": _k(
            "duration", 0.0, "delay from a consultation opening to its decision", lo=0
        ),
    },
    "consultation": {
        "enabled": _k("bool", True, "open a consultation when a report is below quorum"),
        "timeout": _k("duration", 900.0, "how long a consultation stays open", lo=1),
    },
    "invocation": {
        "enabled": _k("bool", False, "a member under heavy attack may invoke collective defence"),
        "min_signals": _k("int", 20, "signals the member sent within the window to qualify", lo=1),
        "duration": _k("duration", 3600.0, "how long an invocation lasts", lo=1),
        "max_per_period": _k("int", 1, "invocations allowed per member per period", lo=1),
        "period": _k("duration", 604800.0, "the period max_per_period counts over", lo=1),
        "automatic": _k("bool", False, "invoke on the member's behalf when it qualifies"),
    },
    "ladder": {
        "rungs": _k(
            "rungs",
            ({"action": "ban", "duration": "1h"}, {"action": "ban", "duration": "1d"}),
            "response per offence: first offence uses the first rung, and so on",
            example='[{ action = "ban", duration = "1h" }, { action = "ban", duration = "1d" }]',
        ),
        "max_duration": _k("duration", 2592000.0, "no decision lasts longer than this", lo=1),
    },
    "recidivism": {
        "memory": _k("duration", 2592000.0, "how long an offence is remembered", lo=0),
        "factor": _k(
            "float", 2.0, "duration multiplier per offence beyond the last rung", lo=1, hi=100
        ),
    },
    "targets": {
        "allow_ranges": _k("bool", True, "whether CIDR ranges may be reported and decided"),
        "max_range_v4": _k(
            "int",
            24,
            "broadest IPv4 range as a prefix length (24: nothing wider than /24)",
            lo=1,
            hi=32,
        ),
        "max_range_v6": _k("int", 48, "broadest IPv6 range as a prefix length", lo=1, hi=128),
        "prefix_v6": _k(
            "int",
            64,
            "IPv6 reports count toward the prefix of this length that holds them; several "
            "addresses of one prefix reported give a decision on the prefix (128: off)",
            lo=1,
            hi=128,
        ),
        "prefix_v4": _k(
            "int",
            32,
            "the same for IPv4 (32: off; 24 counts reports per /24)",
            lo=1,
            hi=32,
        ),
        "widen_v6": _k(
            "prefixes",
            (56, 48),
            "wider IPv6 prefixes a decision grows to, one step at a time, when enough "
            "decided prefixes lie inside one (never beyond max_range_v6)",
            example="[56, 48]",
        ),
        "widen_v4": _k(
            "prefixes",
            (),
            "the same for IPv4 (none by default), e.g. [24] with prefix_v4 = 32",
            example="[24]",
        ),
        "widen_after": _k(
            "int",
            3,
            "decided prefixes inside a wider one that make the decision widen to it",
            lo=2,
            hi=1000,
        ),
        "special": _k(
            "special",
            DEFAULT_ALLOWED,
            "special-purpose address space that may be a target; the rest is refused "
            f"(choose from {', '.join(CHOOSABLE)}; loopback, unspecified, this-network and "
            "broadcast never)",
            example='["documentation", "private", "shared", "benchmarking"]',
        ),
    },
    "protected": {
        "ranges": _k(
            "ranges",
            (),
            "networks no decision may touch, each with a label",
            example='[{ network = "192.0.2.0/24", label = "documentation" }]',
        ),
        "members": _k("bool", True, "members' declared addresses are protected too"),
    },
    "veto": {
        "enabled": _k("bool", False, "permanent members may veto collective decisions"),
        "permanent": _k("names", (), "names of the permanent members"),
        "period": _k(
            "duration", 86400.0, "a vetoed target cannot be re-decided for this long", lo=0
        ),
    },
    "reputation": {
        "initial": _k("float", 0.5, "reputation of a newly admitted member", lo=0, hi=1),
        "gain": _k(
            "float", 0.02, "added per corroborated decision a member took part in", lo=0, hi=1
        ),
        "loss": _k(
            "float", 0.1, "removed from each reporter of an appealed or vetoed decision", lo=0, hi=1
        ),
        "maximum": _k("float", 1.0, "reputation cap", lo=0, hi=1),
        "floor": _k("float", 0.1, "below this a member may be suspended", lo=0, hi=1),
        "suspend_below_floor": _k(
            "bool", True, "suspend a member whose reputation falls below floor"
        ),
        "probation_signals": _k("int", 3, "corroborated decisions that end probation", lo=0),
        "probation_period": _k("duration", 604800.0, "probation ends after this long anyway", lo=0),
        "founding": _k(
            "duration",
            86400.0,
            "members admitted within this long of the first admission are founders: no probation",
            lo=0,
        ),
    },
    "burden": {
        "policy": _k(
            "choice",
            "warn",
            "what happens to a free rider",
            choices=("none", "warn", "delay", "suspend"),
        ),
        "minimum_share": _k(
            "float", 0.02, "decisions contributed per decision received, at least", lo=0, hi=1000
        ),
        "grace": _k(
            "duration", 1209600.0, "no member is judged before this long after joining", lo=0
        ),
        "delay": _k("duration", 30.0, "stream delay for members under the delay policy", lo=0),
    },
    "appeals": {
        "enabled": _k("bool", True, "a decision may be revoked on appeal, costing its reporters"),
    },
    "alert": {
        "enabled": _k(
            "bool",
            False,
            "one report from a member in good standing puts the target on alert: nobody "
            "is blocked, members' detectors meet it with a stricter threshold",
        ),
        "window": _k(
            "duration",
            3600.0,
            "how long an alert lasts from the first report (never extended)",
            lo=1,
            hi=30 * 86400.0,
        ),
        "maxretry": _k(
            "int",
            1,
            "the detector threshold members apply to an alerted source (events within "
            "their findtime); 1: its first malicious line",
            lo=1,
            hi=1000,
        ),
    },
    "correlation": {
        "enabled": _k(
            "bool",
            False,
            "learn which members see the same attackers; an alert names the reporter's "
            "most correlated members, which apply its maxretry",
        ),
        "window": _k(
            "duration",
            604800.0,
            "two reports of one target this close count as a co-occurrence; older ones "
            "are forgotten",
            lo=60,
            hi=365 * 86400.0,
        ),
        "top": _k("int", 5, "correlated members an alert names", lo=1, hi=1000),
        "min_shared": _k(
            "int", 2, "co-occurrences within the window that make a member correlated", lo=1
        ),
        "others_maxretry": _k(
            "int",
            0,
            "the alert threshold of the members not named (0: the alert's maxretry for everyone)",
            lo=0,
            hi=1000,
        ),
    },
    "shared": {
        "enabled": _k(
            "bool",
            False,
            "a quorum on an address with benign evidence (members saw its users log in "
            "or get 2xx answers) gets the response below instead of an alliance-wide ban",
        ),
        "response": _k(
            "choice",
            "local",
            "local: ban only at the members that reported it; throttle: a throttle "
            "instead of a ban; shorter: the ban lasts shorten times the ladder's duration",
            choices=("local", "throttle", "shorter"),
        ),
        "min_benign": _k(
            "int", 1, "benign events reported within memory that make an address shared", lo=1
        ),
        "memory": _k(
            "duration",
            604800.0,
            "benign evidence older than this is forgotten",
            lo=60,
            hi=365 * 86400.0,
        ),
        "shorten": _k(
            "float", 0.25, "the share of the ladder's duration a shorter ban keeps", lo=0.01, hi=1
        ),
    },
    "records": {
        "retention": _k(
            "duration",
            7776000.0,
            "recorded inputs and stream events older than this are exported to an archive "
            "file and pruned from the store, once a checkpoint covers them (0: keep them "
            "forever); a member resuming from before it is resynchronised",
            lo=0,
            hi=100 * 365 * 86400.0,
        ),
    },
    "views": {
        "access": _k(
            "choice",
            "members",
            "who may read the hub's views and dashboard: anyone (public), members and "
            "holders of a read token (members), or the secretariat only (admin)",
            choices=("public", "members", "admin"),
        ),
    },
}


def suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else ""


def parse_duration(value: object) -> float:
    """Seconds from ``"90s"``, ``"15m"``, ``"4h"``, ``"7d"``, ``"2w"`` or a number."""
    if isinstance(value, bool):
        raise ValueError("is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("is not a duration")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("is not a duration")
    return seconds


class SettingError(ValueError):
    """A bad value; the loader adds the source, section and key."""


def convert(key: Key, value: object) -> Any:
    """The value converted to the key's type, or :class:`SettingError` saying the fix."""
    kind = key.kind
    if kind == "str":
        if not isinstance(value, str):
            raise SettingError("must be a string in quotes")
        return value
    if kind == "name":
        if not isinstance(value, str) or not NAME.match(value):
            raise SettingError("must be a name of letters, digits, '.', '_' or '-' (at most 64)")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingError("must be true or false (without quotes)")
        return value
    if kind == "choice":
        if value not in key.choices:
            hint = suggest(str(value), list(key.choices))
            extra = f" (did you mean {hint!r}?)" if hint else ""
            raise SettingError(f"must be one of {', '.join(key.choices)}{extra}")
        return value
    if kind in ("int", "float"):
        allowed = (int,) if kind == "int" else (int, float)
        if (
            not isinstance(value, allowed)
            or isinstance(value, bool)
            or not math.isfinite(float(value))
        ):
            what = "an integer" if kind == "int" else "a number"
            raise SettingError(f"must be {what}{_range(key)}")
        number = int(value) if kind == "int" else float(value)
        _check_range(key, number)
        return number
    if kind == "duration":
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise SettingError(
                'must be a duration such as "90s", "15m", "4h", "7d" or a number of seconds'
            ) from None
        _check_range(key, seconds)
        return seconds
    if kind == "names":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and NAME.match(v) for v in value
        ):
            raise SettingError('must be a list of member names, e.g. ["alpha", "bravo"]')
        if len(set(value)) != len(value):
            raise SettingError("lists a name twice: name each member once")
        return tuple(value)
    if kind == "rungs":
        return _rungs(value)
    if kind == "ranges":
        return _ranges(value)
    if kind == "prefixes":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 128 for v in value
        ):
            raise SettingError("must be a list of prefix lengths, e.g. [56, 48]")
        if list(value) != sorted(set(value), reverse=True):
            raise SettingError("must list prefix lengths from narrowest to widest, e.g. [56, 48]")
        return tuple(value)
    if kind == "special":
        try:
            return check_allowed(value)
        except ValueError as exc:
            raise SettingError(str(exc)) from None
    raise AssertionError(kind)  # pragma: no cover - schema error


def _range(key: Key) -> str:
    if key.lo is not None and key.hi is not None:
        return f" from {_num(key.lo)} to {_num(key.hi)}"
    if key.lo is not None:
        return f" of at least {_num(key.lo)}"
    return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check_range(key: Key, number: float) -> None:
    if (key.lo is not None and number < key.lo) or (key.hi is not None and number > key.hi):
        unit = " seconds" if key.kind == "duration" else ""
        raise SettingError(f"is out of range: use a value{_range(key)}{unit}")


def _rungs(value: object) -> tuple[tuple[str, float], ...]:
    example = '[{ action = "ban", duration = "1h" }]'
    if not isinstance(value, (list, tuple)) or not value:
        raise SettingError(f"must be a non-empty list of rungs, e.g. {example}")
    rungs = []
    for i, rung in enumerate(value, 1):
        if not isinstance(rung, dict) or set(rung) != {"action", "duration"}:
            raise SettingError(
                f"rung {i} must have exactly the keys action and duration, e.g. {example}"
            )
        if rung["action"] not in ACTIONS:
            raise SettingError(
                f"rung {i} has action {rung['action']!r}: use one of {', '.join(ACTIONS)}"
            )
        try:
            seconds = parse_duration(rung["duration"])
        except ValueError:
            raise SettingError(
                f'rung {i} has duration {rung["duration"]!r}: use e.g. "15m", "4h", "7d"'
            ) from None
        if seconds <= 0:
            raise SettingError(f"rung {i} has a zero duration: give it a positive duration")
        rungs.append((str(rung["action"]), seconds))
    return tuple(rungs)


def _ranges(value: object) -> tuple[tuple[str, str], ...]:
    example = '[{ network = "192.0.2.0/24", label = "documentation" }]'
    if not isinstance(value, (list, tuple)):
        raise SettingError(f"must be a list of protected networks, e.g. {example}")
    out = []
    for i, entry in enumerate(value, 1):
        if not isinstance(entry, dict) or set(entry) != {"network", "label"}:
            raise SettingError(
                f"entry {i} must have exactly the keys network and label, e.g. {example}"
            )
        if not isinstance(entry["label"], str) or not entry["label"].strip():
            raise SettingError(f"entry {i} needs a non-empty label saying what it protects")
        try:
            net = parse_network(str(entry["network"]))
        except ValueError as exc:
            raise SettingError(f"entry {i}: {exc}") from None
        out.append((net.with_prefixlen, entry["label"].strip()))
    return tuple(out)
