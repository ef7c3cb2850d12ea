"""Operational log lines shared by the hub and the agent: times, durations, formats.

One line per event that matters, written as ``event key=value ...`` so an operator can
grep it, or as one JSON object per line (``--log-format json``) for a log pipeline.
Times are ISO-8601 in UTC and durations human (``7d``, ``1h30m``), never epoch
floats. Under systemd (``JOURNAL_STREAM`` set) the journal stamps every line itself,
so the text format leaves its own timestamp out.

Callers pass values already made safe to show: targets from the parsed value, never
tokens or keys.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import sys
from collections.abc import Mapping
from typing import IO, Any

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
_EVENT = "shieldwall_event"
_FIELDS = "shieldwall_fields"


def iso(t: float) -> str:
    """Unix seconds as ISO-8601 UTC to the second: ``2026-12-07T05:15:08Z``."""
    if not math.isfinite(t):
        return "never" if t > 0 else "-"
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """A duration as people write it: ``45s``, ``1h30m``, ``7d``, ``2d3h``."""
    if not math.isfinite(seconds):
        return "forever"
    left = max(0, round(seconds))
    if left == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2])


def _text_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_text_value(v) for v in value) or "-"
    text = str(value)
    if text == "" or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text)
    return text


def fields_text(fields: Mapping[str, Any]) -> str:
    """``key=value`` pairs, values quoted when they hold spaces."""
    return " ".join(f"{k}={_text_value(v)}" for k, v in fields.items() if v is not None)


# Fields of progress events that hold a Unix time, or a number of seconds.
TIME_KEYS = frozenset({"t", "at", "until", "expires_at", "issued_at", "since", "closes_at"})
DURATION_KEYS = frozenset({"duration", "ban", "remaining_s", "delay"})


def readable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with times as ISO-8601 and durations as ``1h30m`` (for people)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and key in TIME_KEYS:
            value = iso(value)
        elif number and key in DURATION_KEYS:
            value = duration(value)
        out[key] = value
    return out


def progress_line(kind: str, fields: Mapping[str, Any], t: float | None, stamp: bool = True) -> str:
    """One progress event as a line: ``2026-12-07T05:15:08Z defended target=… until=…``."""
    tail = fields_text(readable(fields))
    head = f"{iso(t)} {kind}" if stamp and t is not None else kind
    return f"{head} {tail}" if tail else head


def event(logger: logging.Logger, name: str, /, level: int = logging.INFO, **fields: Any) -> None:
    """Log one operational event: ``name key=value ...`` (or its JSON object)."""
    if not logger.isEnabledFor(level):
        return
    tail = fields_text(fields)
    logger.log(
        level,
        "%s%s%s",
        name,
        " " if tail else "",
        tail,
        extra={_EVENT: name, _FIELDS: {k: v for k, v in fields.items() if v is not None}},
    )


class TextFormatter(logging.Formatter):
    """``2026-12-07T05:15:08Z INFO shieldwall.hub join member=alpha``; no time under systemd."""

    def __init__(self, stamp: bool = True) -> None:
        super().__init__()
        self.stamp = stamp

    def format(self, record: logging.LogRecord) -> str:
        head = f"{record.levelname} {record.name} {record.getMessage()}"
        if self.stamp:
            head = f"{iso(record.created)} {head}"
        if record.exc_info:
            head += "\n" + self.formatException(record.exc_info)
        return head


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, its fields, message."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        name = getattr(record, _EVENT, None)
        if name is not None:
            out["event"] = name
            out.update(getattr(record, _FIELDS, {}))
        out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def under_journal(environ: Mapping[str, str] | None = None) -> bool:
    """Whether stderr goes to the systemd journal, which stamps lines itself."""
    return bool((os.environ if environ is None else environ).get("JOURNAL_STREAM"))


def formatter(fmt: str, environ: Mapping[str, str] | None = None) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is unknown: choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return JsonFormatter()
    return TextFormatter(stamp=not under_journal(environ))


def configure(
    level: str,
    fmt: str = "text",
    *,
    environ: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Send every log line to ``stream`` (stderr) in ``fmt`` at ``level`` and above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt, environ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def add_arguments(parser: Any, default_level: str) -> None:
    """``--log-level`` and ``--log-format`` for a long-running command."""
    parser.add_argument(
        "--log-level",
        default=default_level,
        choices=LEVELS,
        help=f"least severe log lines to write (default {default_level})",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=FORMATS,
        help="log lines as text (default) or one JSON object per line",
    )
