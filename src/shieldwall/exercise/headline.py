"""Headline findings of a default run: a rogue probe and how fast treaties react.

Two small extra experiments on the same seed, built from the sweep machinery
(:func:`shieldwall.exercise.sweep.load` rewrites a treaty's quorum and loads it
again; the real council decides in :func:`shieldwall.exercise.engine.run_treaty`):

* **rogue probe**: every compared treaty with a quorum-based collective rule (not
  ``unilateral``, not unanimity) played with exactly one rogue member acting alone,
  under quorum 1 and quorum 2. It reports the rogue's false bans and the benign
  user-hours they cost (``rogue_false_bans``, ``rogue_user_hours``).
* **reaction**: ``league`` and ``nato`` in the configured alliance and in a small one
  (``SMALL_ALLIANCE`` members, the campaign's events and sources scaled down by the
  same factor, same seed): decisions issued and, over the attackers that got one,
  the time from the attacker's first event anywhere to its first decision (p50, p95).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from shieldwall.exercise import metrics as mx
from shieldwall.exercise import sweep as sw
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.timeline import Run
from shieldwall.exercise.world import Config, World

SMALL_ALLIANCE = 4
PROBE_QUORUMS = (1, 2)
REACTION_TREATIES = ("league", "nato")

Progress = Callable[[str, float], None]


def quorum_treaties(treaties: list[str]) -> list[str]:
    """The compared treaties whose collective rule is a quorum of distinct members."""
    out = []
    for spec in treaties:
        t = sw.load(spec)
        if t.collective != "none" and not t.unanimity:
            out.append(spec)
    return out


def rogue_probe(
    config: Config,
    treaties: list[str],
    world: World | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One rogue acting alone, quorum 1 against quorum 2, per quorum-based treaty.

    ``world`` is reused when it already has exactly one non-colluding rogue.
    """
    b = config.behaviour
    if world is None or b.rogue != 1 or b.collude:
        cfg = replace(config, behaviour=replace(b, rogue=1, collude=False))
        world = World(cfg)
    rows: list[dict[str, Any]] = []
    for spec in quorum_treaties(treaties):
        for q in PROBE_QUORUMS:
            tick = sw.ticker(progress, f"rogue probe {sw.label(spec)} q={q}")
            result = evaluate(run_treaty(world, sw.load(spec, {"quorum": q}), tick), world)
            rows.append(
                {
                    "treaty": sw.label(spec),
                    "quorum": q,
                    "rogue_false_bans": result.rogue_false_bans,
                    "rogue_user_hours": result.rogue_user_hours,
                    "false_bans": result.false_bans,
                    "attacks_absorbed": result.attacks_absorbed,
                }
            )
    return rows


def small_config(config: Config, members: int = SMALL_ALLIANCE) -> Config:
    """The same campaign scaled down to ``members`` members (same seed)."""
    scale = members / config.members
    camp = config.campaign
    beh = config.behaviour
    return replace(
        config,
        members=members,
        campaign=replace(
            camp,
            events=max(round(camp.events * scale), 1),
            sources=max(round(camp.sources * scale), 1),
        ),
        behaviour=replace(beh, rogue=min(beh.rogue, members)),
    )


def first_decision_delays(run: Run, world: World) -> tuple[int, int, np.ndarray]:
    """(detected attackers, attackers decided, delays from first event to first decision)."""
    first_event = world.campaign.first_event()
    first_decision = np.full(first_event.size, np.inf)
    for rec in run.records:
        if rec.source >= 0:
            first_decision[rec.source] = min(first_decision[rec.source], rec.issued)
    detected = world.detected()
    decided = np.isfinite(first_decision)
    delays = np.maximum(first_decision[decided] - first_event[decided], 0.0)
    return int(detected.sum()), int(decided.sum()), delays


def reaction_row(
    spec: str, config: Config, world: World, progress: Progress | None = None
) -> dict[str, Any]:
    tick = sw.ticker(progress, f"reaction {sw.label(spec)} n={config.members}")
    run = run_treaty(world, sw.load(spec), tick)
    detected, decided, delays = first_decision_delays(run, world)
    actions = sorted({r.decision.action for r in run.records})
    return {
        "treaty": sw.label(spec),
        "members": config.members,
        "events": config.campaign.events,
        "sources": config.campaign.sources,
        "decisions": len(run.records),
        "detected_attackers": detected,
        "attackers_decided": decided,
        "first_decision_p50_s": mx.rounded(mx.percentile(delays, 50)),
        "first_decision_p95_s": mx.rounded(mx.percentile(delays, 95)),
        "actions": actions,
    }


def reaction(
    config: Config, world: World | None = None, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """``league`` and ``nato`` in the configured alliance and in a small one."""
    world = world or World(config)
    small = small_config(config)
    small_world = World(small)
    rows = []
    for spec in REACTION_TREATIES:
        rows.append(reaction_row(spec, config, world, progress))
        if config.members != small.members:
            rows.append(reaction_row(spec, small, small_world, progress))
    return rows


def headline(
    config: Config,
    treaties: list[str],
    world: World | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The ``"headline"`` block of the results document."""
    return {
        "rogue_probe": rogue_probe(config, treaties, world, progress),
        "reaction": reaction(config, world, progress),
        "small_alliance": SMALL_ALLIANCE,
    }
