"""The headline findings of a default run: rogue probe and reaction times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import headline as hl
from shieldwall.exercise.world import Config

SMALL = ["--members", "24", "--events", "6000", "--sources", "150", "--quiet"]
PROBE_KEYS = {
    "treaty",
    "quorum",
    "rogue_false_bans",
    "rogue_user_hours",
    "false_bans",
    "attacks_absorbed",
}
REACTION_KEYS = {
    "treaty",
    "members",
    "events",
    "sources",
    "decisions",
    "detected_attackers",
    "attackers_decided",
    "first_decision_p50_s",
    "first_decision_p95_s",
    "actions",
}


def run_cli(tmp_path: Path, *extra: str) -> dict[str, object]:
    out = tmp_path / "results.json"
    assert main(["exercise", *SMALL, "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_default_run_has_headline(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    doc = run_cli(tmp_path, "--compare", "unilateral,nato,league", "--html", str(html))
    head = doc["headline"]
    assert isinstance(head, dict)
    assert set(head) == {"rogue_probe", "reaction", "small_alliance"}
    probe = head["rogue_probe"]
    assert [(r["treaty"], r["quorum"]) for r in probe] == [("nato", 1), ("nato", 2)]
    assert all(set(r) == PROBE_KEYS for r in probe)
    react = head["reaction"]
    assert [(r["treaty"], r["members"]) for r in react] == [
        ("league", 24),
        ("league", 4),
        ("nato", 24),
        ("nato", 4),
    ]
    assert all(set(r) == REACTION_KEYS for r in react)
    assert react[1]["events"] == 1000 and react[1]["sources"] == 25
    text = html.read_text()
    assert "id='headline'" in text and "rogue false bans" in text


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(("--no-headline",), id="no-headline-flag"),
        pytest.param(("--sweep", "quorum=1..2"), id="sweep-given"),
    ],
)
def test_headline_skipped(tmp_path: Path, extra: tuple[str, ...]) -> None:
    doc = run_cli(tmp_path, "--compare", "nato", *extra)
    assert "headline" not in doc
    assert "treaties" in doc


def small() -> Config:
    return Config(members=24, seed=7, campaign=cmod.CampaignParams(events=6000, sources=150))


def test_quorum_one_lets_a_rogue_ban_more_than_quorum_two() -> None:
    rows = {(r["treaty"], r["quorum"]): r for r in hl.rogue_probe(small(), ["nato"])}
    q1, q2 = rows[("nato", 1)], rows[("nato", 2)]
    assert q1["rogue_false_bans"] > q2["rogue_false_bans"]
    assert q1["rogue_user_hours"] > q2["rogue_user_hours"]
    # Alone, the rogue's 20 inventions all pass quorum 1 and none pass quorum 2.
    assert (q1["rogue_false_bans"], q2["rogue_false_bans"]) == (20, 0)


@pytest.mark.parametrize(
    ("treaties", "expected"),
    [
        pytest.param(["unilateral", "league"], [], id="no-quorum-rule"),
        pytest.param(["unilateral", "nato", "un", "league"], ["nato", "un"], id="quorum-rules"),
    ],
)
def test_probe_only_quorum_treaties(treaties: list[str], expected: list[str]) -> None:
    assert hl.quorum_treaties(treaties) == expected


def test_probe_uses_one_lone_rogue_whatever_the_configured_rogues() -> None:
    base = small()
    many = Config(
        members=24,
        seed=7,
        campaign=base.campaign,
        behaviour=type(base.behaviour)(rogue=3, collude=True),
    )
    assert hl.rogue_probe(many, ["nato"]) == hl.rogue_probe(base, ["nato"])


def test_small_config_scales_campaign_down() -> None:
    cfg = hl.small_config(Config())
    assert (cfg.members, cfg.campaign.events, cfg.campaign.sources, cfg.seed) == (
        4,
        2000,
        40,
        7,
    )
