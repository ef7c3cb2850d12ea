"""Per-scenario thresholds: a leaky bucket (capacity, leak rate) or a count in a window.

The configuration is a plain mapping (the ``[detect]`` table of the agent's TOML):

    [detect]
    max_buckets = 100000
    alerts = true           # meet sources on the alliance's alert with a stricter threshold
    alert_maxretry_min = 1  # ... but never stricter than this (a floor)
    alert_maxretry_max = 3  # ... and at least this strict (a ceiling; default: the alert's)
    [detect.scenarios.ssh-bruteforce]
    count = 5
    window = 600            # or: capacity = 5, leak_rate = 0.0083
    [detect.scenarios.http-bad-user-agent]
    enabled = false
    [detect.scenarios.dovecot-auth]
    prefix_v6 = 56          # IPv6 sources per /56 as well as per address (default 64)
    prefix_v4 = 24          # IPv4 too (default 32: per address only)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shieldwall.agent.detect.prefixes import check_length
from shieldwall.agent.detect.scenarios import SCENARIOS, Threshold

DEFAULT_MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class DetectConfig:
    thresholds: Mapping[str, Threshold] = field(
        default_factory=lambda: {name: s.default for name, s in SCENARIOS.items()}
    )
    max_buckets: int = DEFAULT_MAX_BUCKETS
    alerts: bool = True  # apply the alliance's alerts to detection (never to the firewall)
    alert_maxretry_min: int = 1  # floor of an alert's threshold
    alert_maxretry_max: int = 0  # ceiling (0: the alert's own)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name, t in self.thresholds.items() if t.enabled)

    def only(self, names: list[str]) -> DetectConfig:
        """This configuration with only ``names`` enabled."""
        for name in names:
            _check_name(name, "scenario")
        return replace(
            self, thresholds={n: replace(t, enabled=n in names) for n, t in self.thresholds.items()}
        )


def _check_name(name: str, what: str) -> None:
    if name not in SCENARIOS:
        raise ValueError(f"unknown {what} {name!r}: choose one of {', '.join(sorted(SCENARIOS))}")


def _number(where: str, key: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}.{key} = {value!r} is not a number: give a positive number")
    if integer and value != int(value):
        raise ValueError(f"{where}.{key} = {value!r} is not a whole number: give e.g. 5")
    if not value > 0 or value > 1e9:
        raise ValueError(
            f"{where}.{key} = {value!r} must be > 0 (capacity >= 0) and sensible: e.g. 5"
        )
    return float(value)


def load_config(data: Mapping[str, Any] | None) -> DetectConfig:
    """Validate the ``[detect]`` table; raises ValueError naming the key and the fix."""
    data = dict(data or {})
    unknown = set(data) - {"max_buckets", "scenarios", *_ALERT_KEYS}
    if unknown:
        raise ValueError(
            f"detect: unknown key {sorted(unknown)[0]!r}: use 'max_buckets', 'scenarios', "
            "'alerts', 'alert_maxretry_min' or 'alert_maxretry_max'"
        )
    max_buckets = DEFAULT_MAX_BUCKETS
    if "max_buckets" in data:
        max_buckets = int(_number("detect", "max_buckets", data["max_buckets"], integer=True))
        if max_buckets < 16:
            raise ValueError(f"detect.max_buckets = {max_buckets} is too small: use >= 16")
    thresholds = {name: s.default for name, s in SCENARIOS.items()}
    scenarios = data.get("scenarios", {})
    if not isinstance(scenarios, Mapping):
        raise ValueError("detect.scenarios must be a table of scenario names")
    for name, table in scenarios.items():
        _check_name(name, "scenario in detect.scenarios")
        where = f"detect.scenarios.{name}"
        if not isinstance(table, Mapping):
            raise ValueError(f"{where} must be a table such as {{count = 5, window = 600}}")
        keys = set(table)
        allowed = {"enabled", "capacity", "leak_rate", "count", "window", "prefix_v6", "prefix_v4"}
        if keys - allowed:
            bad = sorted(keys - allowed)[0]
            raise ValueError(
                f"{where}: unknown key {bad!r}: use capacity + leak_rate, or count + window"
                ", and prefix_v6 / prefix_v4"
            )
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValueError(f"{where}.enabled = {enabled!r} must be true or false")
        base = thresholds[name]
        if keys & {"capacity", "leak_rate"} and keys & {"count", "window"}:
            raise ValueError(
                f"{where}: give either capacity + leak_rate or count + window, not both"
            )
        if keys & {"count", "window"}:
            if not {"count", "window"} <= keys:
                raise ValueError(f"{where}: count and window go together: give both")
            count = int(_number(where, "count", table["count"], integer=True))
            thresholds[name] = Threshold.window(
                count, _number(where, "window", table["window"]), enabled
            )
        elif keys & {"capacity", "leak_rate"}:
            capacity = _number(where, "capacity", table.get("capacity", base.capacity))
            leak = _number(where, "leak_rate", table.get("leak_rate", base.leak_rate))
            thresholds[name] = Threshold(capacity, leak, enabled)
        else:
            thresholds[name] = Threshold(base.capacity, base.leak_rate, enabled)
        base = thresholds[name]
        thresholds[name] = replace(
            base,
            prefix_v6=check_length(table.get("prefix_v6", base.prefix_v6), f"{where}.prefix_v6", 6),
            prefix_v4=check_length(table.get("prefix_v4", base.prefix_v4), f"{where}.prefix_v4", 4),
        )
    return DetectConfig(thresholds, max_buckets, **_alert_settings(data))


_ALERT_KEYS = ("alerts", "alert_maxretry_min", "alert_maxretry_max")


def _alert_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The member's own terms for the alliance's alerts (its sovereignty)."""
    alerts = data.get("alerts", True)
    if not isinstance(alerts, bool):
        raise ValueError(f"detect.alerts = {alerts!r} must be true or false")
    low = int(
        _number("detect", "alert_maxretry_min", data.get("alert_maxretry_min", 1), integer=True)
    )
    high = data.get("alert_maxretry_max", 0)
    if high != 0:
        high = int(_number("detect", "alert_maxretry_max", high, integer=True))
        if high < low:
            raise ValueError(
                f"detect.alert_maxretry_max = {high} is below alert_maxretry_min = {low}: "
                "raise it, or lower the minimum"
            )
    return {"alerts": alerts, "alert_maxretry_min": low, "alert_maxretry_max": high}
