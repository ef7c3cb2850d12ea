"""One strict JSON reader for every request body the hub takes (its API and TAXII).

``json.loads`` alone accepts what no member needs to send and the hub cannot
afford: nesting deep enough to exhaust the interpreter's recursion (a 500), the
non-standard ``NaN``/``Infinity`` (which then poison every listing that echoes
them), numbers such as ``1e400`` that read as infinity, duplicate keys (two readers
may disagree on which wins), lone surrogates and NUL characters (refused later by
the store's text encoding). Integers are bounded by Python's 4300-digit limit here
and by each field's own range at the edge.

:func:`loads` refuses all of these with a ``ValueError`` whose message names the
problem and says what to send instead; callers wrap it into their own error shape.
The nesting depth is checked by a vectorised scan over the bytes before the parser
runs, so a hostile body never reaches the recursive decoder.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

MAX_DEPTH = 32

# Only these bytes matter to the nesting; STEP gives each one's change of depth.
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_STEP = np.zeros(256, np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
# Escapes that may spell a NUL or half a surrogate pair: only then are strings walked.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class JsonError(ValueError):
    """A body that is not strict JSON; the message says what is wrong and what to do."""


def depth(body: bytes) -> int:
    """The deepest nesting of brackets in ``body``, outside strings.

    Vectorised, no recursion and no loop per byte: escaped backslashes and quotes are
    dropped, then everything but brackets and quotes; a bracket after an odd number
    of quotes is inside a string. For a body that is not JSON the figure is only an
    estimate; the parser refuses such a body anyway.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = np.frombuffer(body.translate(None, _NOT_STRUCTURE), np.uint8)
    inside = (np.cumsum(kept == ord('"'), dtype=np.int64) & 1).astype(bool)
    step = _STEP[kept]
    step[inside] = 0
    return int(np.cumsum(step, dtype=np.int64).max(initial=0))


def nests_deeper(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``body`` nests deeper than ``limit`` (few brackets: no scan at all)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return depth(body) > limit


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number: send finite numbers only")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"number {text[:40]} is out of range: send finite numbers only")
    return value


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise JsonError(f"{where} contains a NUL character (\\u0000): remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonError(
            f"{where} contains a lone surrogate (\\ud800-\\udfff): send valid Unicode"
        ) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(f"key {key[:64]!r} appears twice in one object: send it once")
            seen.add(key)
    return out


def _check_strings(value: Any) -> None:
    """Every key and string in ``value`` (depth already bounded), without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item, f"string {item[:40]!r}")
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, f"key {key[:40]!r}")
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def loads(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one strict JSON document; :class:`JsonError` says what is wrong."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if nests_deeper(raw, max_depth):
        raise JsonError(
            f"the body nests more than {max_depth} levels deep: send a flatter document"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(f"the body is not UTF-8 (byte {exc.start}): send UTF-8 JSON") from None
    try:
        value = json.loads(
            text,
            parse_constant=_constant,
            parse_float=_float,
            object_pairs_hook=_object,
        )
    except JsonError:
        raise
    except ValueError as exc:
        raise JsonError(f"the body is not valid JSON ({exc}): send a JSON document") from None
    if _SUSPECT.search(raw):
        _check_strings(value)
    return value
