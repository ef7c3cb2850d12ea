"""Builders for council tests: a treaty from a template with overrides, members."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shieldwall.core.council import Council
from shieldwall.core.model import MemberState, Outcome, Signal
from shieldwall.core.treaty import Treaty, load_template

ATTACKER = "203.0.113.9"


def treaty(template: str, **changes: Any) -> Treaty:
    """A template with fields changed; ``section__key`` reaches nested rules."""
    t = load_template(template)
    top = {k: v for k, v in changes.items() if "__" not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "__" in key:
            section, field = key.split("__", 1)
            nested.setdefault(section, {})[field] = value
    for section, fields in nested.items():
        top[section] = replace(getattr(t, section), **fields)
    return replace(t, **top)


def council(
    template: str | Treaty = "nato", members: int = 3, now: float = 0.0, **changes: Any
) -> Council:
    """A council with founding members m0, m1, ... at 10.0.<i>.1, all admitted."""
    t = treaty(template, **changes) if isinstance(template, str) else template
    c = Council(t)
    for i in range(members):
        name = f"m{i}"
        c.apply(name, [f"10.0.{i}.1"], now)
        if t.accession == "admin" or i == 0:
            c.approve(name, now)
        else:
            for voter in [f"m{j}" for j in range(i)]:
                c.vote(name, voter, True, now)
    return c


def report(
    c: Council, member: str, now: float, target: str = ATTACKER, scenario: str = "ssh"
) -> Outcome:
    return c.step([Signal(member, target, scenario, now)], now)


def state(c: Council, name: str) -> MemberState:
    """The member's state; fails the test if it does not exist."""
    m = c.member(name)
    assert m is not None, f"no member {name}"
    return m
