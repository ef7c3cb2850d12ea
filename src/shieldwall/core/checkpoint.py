"""Checkpoints: the council's whole state as canonical bytes, and back.

No I/O, no clock. :func:`capture` writes a :class:`~shieldwall.core.council.Council`
as one canonical JSON document: the same recorded inputs give the same bytes, on any
machine and under any hash seed, so a checkpoint can be checked against a replay of
the inputs up to its sequence number. :func:`restore` builds a council that behaves
exactly as the captured one (same ids, same records) for every later input.

The encoding walks the state's object graph. Every container keeps its order (dict
insertion order matters: sweeps and LRU maps follow it) except sets, which are
written sorted. Objects are only those of :data:`CLASSES`; an object met twice (a
decision in ``decisions`` and in ``by_target``) is written once and referred to after,
so identity checks (``is``) hold after a restore. Treaties are written as their text,
once each; the target gate is derived from the treaty and the roster and is rebuilt.

A document that does not restore (other format version, digest mismatch, damaged
bytes, an unknown class) raises :class:`CheckpointError` naming what is wrong; the
hub then falls back to an older checkpoint or to a full replay.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from types import MethodType
from typing import Any

from shieldwall.core.consultation import Book, Open
from shieldwall.core.correlation import Correlation
from shieldwall.core.council import Council
from shieldwall.core.ladder import Ladder
from shieldwall.core.ledger import Ledger
from shieldwall.core.members import Member, Roster
from shieldwall.core.model import Alert, Consultation, Decision, Dispute, Revocation
from shieldwall.core.state import CouncilState
from shieldwall.core.targets import Checked, Gate, RangeIndex
from shieldwall.core.treaty import Treaty, load_treaty

FORMAT = 1
"""Raised whenever the encoding or the state's classes change shape."""

CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Council,
        CouncilState,
        Roster,
        Member,
        Ladder,
        Ledger,
        Book,
        Open,
        Correlation,
        RangeIndex,
        Decision,
        Revocation,
        Alert,
        Consultation,
        Dispute,
        Checked,
    )
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    """The council's state after recorded input ``seq`` (``at``: council time)."""

    seq: int
    at: float
    treaty_digest: str
    treaty_label: str
    digest: str  # sha256 of ``body``
    body: bytes = b""
    format: int = FORMAT

    def __repr__(self) -> str:
        return (
            f"Checkpoint(seq={self.seq}, format={self.format}, treaty={self.treaty_label}, "
            f"digest={self.digest[:12]}, {len(self.body)} bytes)"
        )


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def capture(council: Council, seq: int) -> Checkpoint:
    """The council's state after recorded input ``seq``, as canonical bytes."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"input seq {seq!r} must be a whole number, 0 or more")
    enc = _Encoder()
    state = enc.value(council)
    treaty = council.treaty
    doc = {
        "format": FORMAT,
        "seq": seq,
        "treaty": treaty.digest,
        "treaties": [t.text for t in enc.treaties],
        "state": state,
    }
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    raw = body.encode("utf-8")
    now = council.state.now
    at = now if math.isfinite(now) else 0.0
    return Checkpoint(seq, at, treaty.digest, treaty.label, digest_of(raw), raw)


def restore(body: bytes, digest: str, seq: int) -> Council:
    """The council captured in ``body``; CheckpointError if it is not that checkpoint."""
    if digest_of(body) != digest:
        raise CheckpointError(f"checkpoint at input {seq}: its bytes do not match its digest")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint at input {seq}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise CheckpointError(
            f"checkpoint at input {seq} has format {found!r}, this version reads {FORMAT}"
        )
    if doc.get("seq") != seq:
        raise CheckpointError(f"checkpoint at input {seq} says it is at input {doc.get('seq')!r}")
    try:
        treaties = [load_treaty(t, f"treaty in checkpoint {seq}") for t in doc["treaties"]]
        council = _Decoder(treaties).value(doc["state"])
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint at input {seq} is damaged ({exc!r})") from None
    if not isinstance(council, Council) or council.treaty.digest != doc.get("treaty"):
        raise CheckpointError(f"checkpoint at input {seq} does not hold a council")
    # The target gate is derived state: rebuilt from the treaty and the roster.
    council.state.gate = Gate(council.state.treaty)
    council._protect()
    return council


# -- the encoding -------------------------------------------------------------------
#
# JSON null, booleans, integers, floats and strings stand for themselves (a float is
# always written with a dot or an exponent, so it comes back a float). Everything else
# is a list whose first item is a tag:
#   ["F", "inf"|"-inf"|"nan"]     a float JSON cannot hold
#   ["L", x...] ["T", x...]       list, tuple
#   ["D", k, v, ...] ["OD", ...]  dict, OrderedDict (insertion order)
#   ["S", x...] ["FS", x...]      set, frozenset (sorted by their encoding)
#   ["Q", maxlen, x...]           deque
#   ["O", class, [attr, value]...]  an object, first time met
#   ["N", class, x...]            a named tuple
#   ["R", n]                      the n-th mutable value met (0-based), met again
#   ["TR", n]                     the n-th treaty of "treaties"
#   ["M", object, name]           a bound method
#   ["G"]                         the target gate (rebuilt)


class _Encoder:
    def __init__(self) -> None:
        self.refs: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps every referenced object alive (ids stay unique)
        self.treaties: list[Treaty] = []

    def _ref(self, obj: Any) -> list[Any] | None:
        n = self.refs.get(id(obj))
        if n is not None:
            return ["R", n]
        self.refs[id(obj)] = len(self.keep)
        self.keep.append(obj)
        return None

    def value(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return v if math.isfinite(v) else ["F", repr(v)]
        if t is tuple:
            return ["T", *map(self.value, v)]
        if t is Treaty:
            for i, known in enumerate(self.treaties):
                if known is v:
                    return ["TR", i]
            self.treaties.append(v)
            return ["TR", len(self.treaties) - 1]
        if t is Gate:
            return ["G"]
        if t is frozenset:
            return ["FS", *self._sorted(v)]
        if t is MethodType:
            return ["M", self.value(v.__self__), v.__func__.__name__]
        name = t.__name__
        if CLASSES.get(name) is t and issubclass(t, tuple):
            return ["N", name, *map(self.value, v)]
        seen = self._ref(v)
        if seen is not None:
            return seen
        if t is list:
            return ["L", *map(self.value, v)]
        if t is dict or t is OrderedDict:
            out: list[Any] = ["D" if t is dict else "OD"]
            for k, x in v.items():
                out.append(self.value(k))
                out.append(self.value(x))
            return out
        if t is set:
            return ["S", *self._sorted(v)]
        if t is deque:
            return ["Q", v.maxlen, *map(self.value, v)]
        if CLASSES.get(name) is not t:
            raise TypeError(f"checkpoint: cannot encode a {t.__module__}.{name}")
        out = ["O", name]
        for attr, x in _attrs(v):
            out.append([attr, self.value(x)])
        return out

    def _sorted(self, items: Any) -> list[Any]:
        encoded = [self.value(x) for x in items]
        return sorted(encoded, key=lambda e: json.dumps(e, ensure_ascii=False))


def _attrs(obj: Any) -> list[tuple[str, Any]]:
    slots = [
        s
        for cls in reversed(type(obj).__mro__)
        for s in getattr(cls, "__slots__", ())
        if s != "__weakref__"
    ]
    if slots:
        return [(s, getattr(obj, s)) for s in slots]
    return list(vars(obj).items())


class _Decoder:
    def __init__(self, treaties: list[Treaty]) -> None:
        self.treaties = treaties
        self.refs: list[Any] = []

    def value(self, e: Any) -> Any:
        if not isinstance(e, list):
            if isinstance(e, (dict,)):
                raise CheckpointError("checkpoint holds a JSON object where a value belongs")
            return e
        tag = e[0]
        v = self.value
        if tag == "T":
            return tuple(v(x) for x in e[1:])
        if tag == "F":
            return float(e[1])
        if tag == "TR":
            return self.treaties[e[1]]
        if tag == "G":
            return None
        if tag == "FS":
            return frozenset(v(x) for x in e[1:])
        if tag == "M":
            return getattr(v(e[1]), e[2])
        if tag == "N":
            return self._cls(e[1])(*(v(x) for x in e[2:]))
        if tag == "R":
            return self.refs[e[1]]
        if tag == "L":
            out_list: list[Any] = []
            self.refs.append(out_list)
            out_list.extend(v(x) for x in e[1:])
            return out_list
        if tag in ("D", "OD"):
            out_dict: dict[Any, Any] = {} if tag == "D" else OrderedDict()
            self.refs.append(out_dict)
            items = e[1:]
            for i in range(0, len(items), 2):
                key = v(items[i])
                out_dict[key] = v(items[i + 1])
            return out_dict
        if tag == "S":
            out_set: set[Any] = set()
            self.refs.append(out_set)
            out_set.update(v(x) for x in e[1:])
            return out_set
        if tag == "Q":
            out_q: deque[Any] = deque(maxlen=e[1])
            self.refs.append(out_q)
            out_q.extend(v(x) for x in e[2:])
            return out_q
        if tag == "O":
            cls: Any = self._cls(e[1])
            obj = cls.__new__(cls)
            self.refs.append(obj)
            for attr, x in e[2:]:
                object.__setattr__(obj, attr, v(x))
            return obj
        raise CheckpointError(f"checkpoint holds an unknown tag {str(tag)[:20]!r}")

    @staticmethod
    def _cls(name: Any) -> type:
        cls = CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CheckpointError(f"checkpoint names an unknown class {str(name)[:40]!r}")
        return cls
