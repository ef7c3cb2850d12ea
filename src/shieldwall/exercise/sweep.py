"""Comparing treaties and sweeping one parameter at a time, with the same seed.

Treaty parameters (``quorum``, ``window``, ``alert`` 0/1, ``alert_window``,
``alert_maxretry``) are changed by rewriting the treaty's TOML
and loading it again with :func:`shieldwall.core.treaty.load_treaty`, so a swept
treaty is validated exactly like one an operator writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any

from shieldwall.core.treaty import TEMPLATES, Treaty, load_treaty, template_text
from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import members as mmod
from shieldwall.exercise.engine import check_roster, run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.metrics import TreatyResult
from shieldwall.exercise.oracle import oracle, with_gain
from shieldwall.exercise.world import Config, World

TREATY_KEYS = {
    "quorum": ("collective", "quorum"),
    "window": ("collective", "window"),
    "alert": ("alert", "enabled"),
    "alert_window": ("alert", "window"),
    "alert_maxretry": ("alert", "maxretry"),
}
WHOLE_KEYS = ("quorum", "alert_maxretry")  # treaty keys that take whole numbers
CONFIG_KEYS = ("members", "slice_s", "appeal_after_s")
MAX_POINTS = 50

Progress = Callable[[str, float], None]


def treaty_text(spec: str) -> str:
    """A template name or the path of a treaty TOML file (its name ends in ``.toml``)."""
    if spec in TEMPLATES or not spec.endswith(".toml"):
        return template_text(spec)  # raises for unknown names, naming the templates
    what = f"treaty file {spec!r}"
    try:
        return Path(spec).read_text("utf-8")
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a directory"
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror})"
    raise ValueError(
        f"{what} {problem}: give the path of a treaty .toml file or a template name "
        f"({', '.join(TEMPLATES)})"
    )


def label(spec: str) -> str:
    """How a compared treaty is named in results: the template, or the file's stem."""
    return Path(spec).stem if spec.endswith(".toml") else spec


def ticker(progress: Progress | None, label: str) -> Callable[[float], None] | None:
    """A progress callback for one run, reporting under ``label``."""
    return None if progress is None else partial(progress, label)


def relabel(progress: Progress | None, pattern: str) -> Progress | None:
    """``progress`` with each label put into ``pattern`` (``"{}"`` marks the label)."""
    if progress is None:
        return None

    def tick(name: str, fraction: float) -> None:
        progress(pattern.format(name), fraction)

    return tick


def whole(name: str, value: float) -> int:
    """``value`` as an integer; a fraction is refused, naming the parameter."""
    if value != int(value):
        raise ValueError(f"{name}={value:g} is not a whole number: give e.g. {name}={int(value)}")
    return int(value)


def cast(name: str, kind: object, value: float) -> Any:
    """A swept number as the type of field ``name``: bool (0 or 1), int or float."""
    if kind in ("bool", bool):
        if value not in (0.0, 1.0):
            raise ValueError(
                f"{name}={value:g} is not a boolean: sweep it as {name}=0..1 (0 false, 1 true)"
            )
        return value == 1.0
    if kind in ("int", int):
        return whole(name, value)
    return float(value)


def override(text: str, section: str, key: str, literal: str) -> str:
    """Set ``key = literal`` in ``[section]`` of TOML ``text`` (added if missing)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        return f"{text.rstrip()}\n\n[{section}]\n{key} = {literal}\n"
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].lstrip().startswith("[") and not lines[i].lstrip().startswith("[[")
        ),
        len(lines),
    )
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            lines[i] = f"{key} = {literal}"
            break
    else:
        lines.insert(start + 1, f"{key} = {literal}")
    return "\n".join(lines) + "\n"


def load(spec: str, changes: dict[str, Any] | None = None) -> Treaty:
    text = treaty_text(spec)
    for name, value in (changes or {}).items():
        section, key = TREATY_KEYS[name]
        if name in WHOLE_KEYS:
            literal = str(whole(name, value))
        elif name == "alert":
            literal = "true" if cast(name, bool, value) else "false"
        else:
            literal = f'"{float(value):g}s"'
        text = override(text, section, key, literal)
    return load_treaty(text, source=f"treaty {spec}" + (f" with {changes}" if changes else ""))


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``quorum=1..5``, ``rogue=0..10`` or ``delay_median_s=0.1,1,10``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    known = sweepable()
    if not sep or name not in known:
        raise ValueError(
            f"sweep {text!r} is not NAME=A..B or NAME=V1,V2: NAME is one of "
            f"{', '.join(sorted(known))}"
        )
    try:
        if ".." in spec:
            lo_s, hi_s = spec.split("..", 1)
            lo, hi = int(lo_s), int(hi_s)
            if hi < lo:
                raise ValueError
            values = [float(v) for v in range(lo, hi + 1)]
        else:
            values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"sweep {text!r} has bad values {spec!r}: give whole numbers A..B with A <= B "
            "or a comma-separated list"
        ) from None
    if not values or len(values) > MAX_POINTS:
        raise ValueError(
            f"sweep {text!r} has {len(values)} points: give between 1 and {MAX_POINTS}"
        )
    return name, values


def sweepable() -> set[str]:
    return (
        set(TREATY_KEYS)
        | set(CONFIG_KEYS)
        | {f.name for f in fields(cmod.CampaignParams)}
        | {f.name for f in fields(mmod.MemberParams)}
    )


def configured(config: Config, name: str, value: float) -> Config:
    """``config`` with one parameter changed (treaty parameters leave it alone)."""
    if name in TREATY_KEYS:
        return config
    if name in CONFIG_KEYS:
        changed: dict[str, Any] = {name: whole(name, value) if name == "members" else value}
        return replace(config, **changed)
    for part, cls in (("campaign", cmod.CampaignParams), ("behaviour", mmod.MemberParams)):
        types = {f.name: f.type for f in fields(cls)}
        if name in types:
            one = {name: cast(name, types[name], value)}
            changed = {part: replace(getattr(config, part), **one)}
            return replace(config, **changed)
    raise ValueError(f"unknown sweep parameter {name!r}: choose one of {sorted(sweepable())}")


def check(config: Config, treaties: list[str], sweeps: list[tuple[str, list[float]]]) -> None:
    """Refuse, before anything runs, a treaty or a point of a sweep that would not make a
    valid exercise: a treaty that does not load or names more permanent members than
    there are members, or a parameter value out of range."""
    loaded = [load(spec) for spec in treaties]
    for treaty in loaded:
        check_roster(treaty, config.members)
    for name, values in sweeps:
        for value in values:
            members = configured(config, name, value).members
            if name in TREATY_KEYS:
                for spec in treaties:
                    check_roster(load(spec, {name: value}), members)
            elif members != config.members:
                for treaty in loaded:
                    check_roster(treaty, members)


def compare(
    config: Config,
    treaties: list[str],
    changes: dict[str, Any] | None = None,
    progress: Progress | None = None,
    world: World | None = None,
) -> tuple[World, dict[str, TreatyResult]]:
    """Every treaty against the same world, each with the share of the oracle's possible
    gain it captured (:mod:`shieldwall.exercise.oracle`)."""
    loaded = [load(spec, changes) for spec in treaties]
    world = world or World(config)
    out: dict[str, TreatyResult] = {}
    for spec, treaty in zip(treaties, loaded, strict=True):
        name = label(spec)
        out[name] = evaluate(run_treaty(world, treaty, ticker(progress, name)), world)
    return world, with_gain(out, oracle(world))


def sweep(
    config: Config,
    treaties: list[str],
    name: str,
    values: list[float],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One parameter over ``values``; everything else (seed included) fixed."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for value in values:
        changes = {name: value} if name in TREATY_KEYS else None
        cfg = configured(config, name, value)
        _, results = compare(cfg, treaties, changes, relabel(progress, f"{name}={value:g} {{}}"))
        for treaty, result in results.items():
            rows.setdefault(treaty, []).append(result.as_json())
    return {"parameter": name, "values": values, "treaties": rows}


def pure_treaties(
    config: Config,
    world: World,
    treaties: list[str],
    progress: Progress | None = None,
) -> dict[str, TreatyResult]:
    """The same world without members' local self-defence: what the treaties do alone."""
    plain = replace(config, behaviour=replace(config.behaviour, self_defence=False))
    tick = relabel(progress, "{} (no self-defence)")
    return compare(plain, treaties, progress=tick, world=world.variant(False))[1]


def results_document(
    config: Config,
    world: World,
    results: dict[str, TreatyResult],
    sweeps: list[dict[str, Any]],
    pure: dict[str, TreatyResult] | None = None,
) -> dict[str, Any]:
    """The JSON document: parameters and seed at the top, one entry per treaty.

    ``pure`` (results without local self-defence on the same world) goes under
    ``treaties_without_self_defence``; the oracle's row (the limit on this world) under
    ``reference.oracle``.
    """
    stats = cmod.stats(world.campaign)
    extra = {}
    if pure is not None:
        extra["treaties_without_self_defence"] = {n: r.as_json() for n, r in pure.items()}
    limit = oracle(world)
    return {
        "seed": config.seed,
        **{k: v for k, v in config.as_dict().items() if k != "seed"},
        "campaign_stats": {
            k: round(v, 4) if isinstance(v, float) else v for k, v in stats.__dict__.items()
        },
        "treaties": {name: r.as_json() for name, r in results.items()},
        **extra,
        "reference": {limit.treaty: limit.as_json()},
        "series": {name: r.series for name, r in results.items()},
        "reference_series": {limit.treaty: limit.series},
        "sweeps": sweeps,
    }
