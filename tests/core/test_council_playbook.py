"""Scripted conversations with the council, one per template and clause.

Each script is a list of calls; the expected list is every record the council
produced, in order, rendered as one short line each.
"""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import Outcome, Signal
from shieldwall.core.treaty import CLAUSES
from tests.core.helpers import ATTACKER, council

A = ATTACKER


def render(o: Outcome) -> list[str]:
    """Records in a fixed order per call: decisions, revocations, consultations, disputes."""
    lines = []
    for d in o.decisions:
        extra = " recommended" if d.recommended else ""
        extra += f" for {','.join(d.applies_to)}" if d.applies_to else ""
        lines.append(
            f"decision #{d.id} {d.clause} {d.action} {d.target} by {','.join(d.members)}{extra}"
        )
    lines += [f"revocation #{r.decision_id} {r.clause}" for r in o.revocations]
    lines += [
        f"consultation #{c.id} {c.status} {c.target} [{','.join(c.members)}]"
        for c in o.consultations
    ]
    lines += [f"dispute {x.target} {x.protected}" for x in o.disputes]
    lines += [f"no-action {n.target}" for n in o.no_action]
    return lines


def play(c: Council, script: list[tuple[Any, ...]]) -> list[str]:
    seen: list[str] = []
    for call in script:
        kind, *args = call
        if kind == "report":  # member, now[, target]
            member, now, *rest = args
            o = c.step([Signal(member, rest[0] if rest else A, "ssh", now)], now)
        elif kind == "tick":
            o = c.tick(args[0])
        elif kind == "invoke":
            o = c.invoke(args[0], args[1])
        elif kind == "revoke":  # id, now, appeal
            o = c.revoke(args[0], args[1], "secretariat", "false alarm", appeal=args[2])
        elif kind == "veto":  # member, id, now
            o = c.veto(args[0], args[1], args[2])
        else:  # pragma: no cover - a typo in a script
            raise AssertionError(kind)
        seen += render(o)
    return seen


def flood(member: str, start: float, n: int) -> list[tuple[Any, ...]]:
    return [("report", member, start + i * 0.1, f"198.51.100.{i + 1}") for i in range(n)]


SCRIPTS = [
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1), ("report", "m1", 2)],
        [
            f"consultation #1 open {A} [m0]",
            f"decision #1 art5.quorum ban {A} by m0,m1",
            f"consultation #1 corroborated {A} [m0,m1]",
        ],
        id="nato-quorum-corroborates-consultation",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1), ("report", "m0", 2), ("tick", 901)],
        [f"consultation #1 open {A} [m0]", f"no-action {A}", f"consultation #1 expired {A} [m0]"],
        id="nato-one-member-twice-is-not-quorum",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 0), ("report", "m1", 901)],
        [
            f"consultation #1 open {A} [m0]",
            f"consultation #1 expired {A} [m0]",
            f"consultation #2 open {A} [m1]",
        ],
        id="nato-reports-outside-window-do-not-combine",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1), ("report", "m1", 2), ("report", "m2", 3)],
        [
            f"consultation #1 open {A} [m0]",
            f"decision #1 art5.quorum ban {A} by m0,m1",
            f"consultation #1 corroborated {A} [m0,m1]",
            f"no-action {A}",
        ],
        id="nato-no-duplicate-active-decision",
    ),
    pytest.param(
        "nato",
        {"targets__widen_after": 2},
        [
            ("report", "m0", 1, "2001:db8:1:1::1"),
            ("report", "m1", 2, "2001:db8:1:1::2"),
            ("report", "m0", 3, "2001:db8:1:2::1"),
            ("report", "m1", 4, "2001:db8:1:2::2"),
            ("report", "m0", 5, "2001:db8:1:3::1"),
            ("report", "m1", 6, "2001:db8:1:3::1"),
        ],
        [
            "consultation #1 open 2001:db8:1:1::/64 [m0]",
            "decision #1 targets.prefix ban 2001:db8:1:1::/64 by m0,m1",
            "consultation #1 corroborated 2001:db8:1:1::/64 [m0,m1]",
            "consultation #2 open 2001:db8:1:2::/64 [m0]",
            "decision #2 targets.prefix ban 2001:db8:1:2::/64 by m0,m1",
            "decision #3 targets.widen ban 2001:db8:1::/56 by m0,m1",
            "consultation #2 corroborated 2001:db8:1:2::/64 [m0,m1]",
            "no-action 2001:db8:1:3::1",
            "no-action 2001:db8:1:3::1",
        ],
        id="nato-ipv6-prefix-then-widen",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1, "10.0.1.1"), ("report", "m0", 2, "127.0.0.1")],
        ["dispute 10.0.1.1 10.0.1.1", "dispute 127.0.0.1 127.0.0.0/8"],
        id="nato-protected-become-disputes",
    ),
    pytest.param(
        "nato",
        {},
        [
            ("report", "m0", 1, "198.51.100.0/24"),
            ("report", "m1", 2, "198.51.100.0/24"),
            ("report", "m2", 3, "198.51.100.77"),
        ],
        [
            "consultation #1 open 198.51.100.0/24 [m0]",
            "decision #1 art5.quorum ban 198.51.100.0/24 by m0,m1",
            "consultation #1 corroborated 198.51.100.0/24 [m0,m1]",
            "no-action 198.51.100.77",
        ],
        id="nato-range-decision-absorbs-ip-inside",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1, "2001:db8::66"), ("report", "m1", 2, "2001:db8::66")],
        [
            # reports count toward the /64; one address reported decides that address
            "consultation #1 open 2001:db8::/64 [m0]",
            "decision #1 art5.quorum ban 2001:db8::66 by m0,m1",
            "consultation #1 corroborated 2001:db8::/64 [m0,m1]",
        ],
        id="nato-ipv6",
    ),
    pytest.param(
        "nato",
        {"invocation__min_signals": 3},
        [*flood("m0", 1, 3), ("invoke", "m0", 2), ("report", "m0", 3)],
        [
            "consultation #1 open 198.51.100.1 [m0]",
            "consultation #2 open 198.51.100.2 [m0]",
            "consultation #3 open 198.51.100.3 [m0]",
            "decision #1 art5.invocation ban 198.51.100.1 by m0",
            "decision #2 art5.invocation ban 198.51.100.2 by m0",
            "decision #3 art5.invocation ban 198.51.100.3 by m0",
            "consultation #1 corroborated 198.51.100.1 [m0]",
            "consultation #2 corroborated 198.51.100.2 [m0]",
            "consultation #3 corroborated 198.51.100.3 [m0]",
            f"decision #4 art5.invocation ban {A} by m0",
        ],
        id="nato-invocation-acts-alone",
    ),
    pytest.param(
        "nato",
        {},
        [("report", "m0", 1), ("report", "m1", 2), ("revoke", 1, 3, True)],
        [
            f"consultation #1 open {A} [m0]",
            f"decision #1 art5.quorum ban {A} by m0,m1",
            f"consultation #1 corroborated {A} [m0,m1]",
            "revocation #1 appeal",
        ],
        id="nato-appeal",
    ),
    pytest.param(
        "nato",
        {},
        [
            ("report", "m0", 1),
            ("report", "m1", 2),
            ("revoke", 1, 3, False),
            ("revoke", 1, 4, False),
        ],
        [
            f"consultation #1 open {A} [m0]",
            f"decision #1 art5.quorum ban {A} by m0,m1",
            f"consultation #1 corroborated {A} [m0,m1]",
            "revocation #1 admin-revoke",
            f"no-action {A}",
        ],
        id="nato-admin-revoke-once",
    ),
    pytest.param(
        "nato",
        {"consultation__enabled": False},
        [("report", "m0", 1)],
        [f"no-action {A}"],
        id="no-consultation-clause-off",
    ),
    pytest.param(
        "anzus",
        {},
        [("report", "m0", 1), ("report", "m1", 2)],
        [
            f"consultation #1 open {A} [m0]",
            f"decision #1 recommendation ban {A} by m0,m1 recommended",
            f"consultation #1 corroborated {A} [m0,m1]",
        ],
        id="anzus-recommends",
    ),
    pytest.param(
        "un",
        {"veto__permanent": ("m0",)},
        [
            ("report", "m1", 1),
            ("report", "m2", 2),
            ("report", "m3", 3),
            ("veto", "m0", 1, 4),
            ("report", "m1", 5),
            ("veto", "m1", 1, 6),
        ],
        [
            f"consultation #1 open {A} [m1]",
            f"consultation #1 open {A} [m1,m2]",
            f"decision #1 art5.quorum throttle {A} by m1,m2,m3",
            f"consultation #1 corroborated {A} [m1,m2,m3]",
            "revocation #1 veto",
            f"no-action {A}",
            f"no-action {A}",
        ],
        id="un-veto-blocks-redecision",
    ),
    pytest.param(
        "league",
        {},
        [
            ("report", "m0", 0),
            ("report", "m1", 60),
            ("report", "m2", 120),
            ("tick", 599),
            ("tick", 600),
        ],
        [
            f"consultation #1 open {A} [m0]",
            f"consultation #1 open {A} [m0,m1]",
            f"consultation #1 open {A} [m0,m1,m2]",
            f"decision #1 unanimity watch {A} by m0,m1,m2 recommended",
            f"consultation #1 corroborated {A} [m0,m1,m2]",
        ],
        id="league-unanimity-after-deliberation",
    ),
    pytest.param(
        "league",
        {},
        [("report", "m0", 0), ("report", "m1", 60), ("tick", 3600)],
        [
            f"consultation #1 open {A} [m0]",
            f"consultation #1 open {A} [m0,m1]",
            f"consultation #1 expired {A} [m0,m1]",
        ],
        id="league-one-missing-voice-blocks",
    ),
    pytest.param(
        "unilateral",
        {},
        [("report", "m0", 1), ("report", "m1", 2), ("report", "m0", 3)],
        [
            f"decision #1 self-defence ban {A} by m0 for m0",
            f"decision #2 self-defence ban {A} by m1 for m1",
            f"no-action {A}",
        ],
        id="unilateral-self-defence-binds-reporter",
    ),
    pytest.param(
        "unilateral",
        {},
        [("report", "m0", 1, "10.0.2.1")],
        ["dispute 10.0.2.1 10.0.2.1"],
        id="unilateral-protects-members",
    ),
]


@pytest.mark.parametrize(("template", "changes", "script", "expected"), SCRIPTS)
def test_playbook(
    template: str, changes: dict[str, Any], script: list[tuple[Any, ...]], expected: list[str]
) -> None:
    members = 4 if template == "un" else 3
    c = council(template, members=members, **changes)
    assert play(c, script) == expected


def test_every_clause_is_exercised() -> None:
    cited: set[str] = set()
    for param in SCRIPTS:
        template, changes, script, _ = param.values
        assert isinstance(template, str) and isinstance(changes, dict)
        assert isinstance(script, list)
        c = council(template, members=4 if template == "un" else 3, **changes)
        for line in play(c, script):
            parts = line.split()
            if parts[0] in ("decision", "revocation"):
                cited.add(parts[2])
            elif parts[0] == "consultation":
                cited.add(
                    {
                        "open": "art4.consultation",
                        "corroborated": "art4.corroborated",
                        "expired": "art4.expired",
                    }[parts[2]]
                )
            elif parts[0] == "dispute":
                cited.add("protected.member" if parts[1].startswith("10.") else "protected")
    cited.update(("alert", "alert.correlated"))  # records of their own: test_alerts.py
    cited.update(c for c in CLAUSES if c.startswith("shared."))  # tests/core/test_shared.py
    assert cited == set(CLAUSES)
