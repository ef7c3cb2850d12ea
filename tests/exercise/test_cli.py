"""``shieldwall exercise`` end to end in-process: JSON contract, sweeps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.exercise.sweep import load, override, parse_sweep

SMALL = ["--members", "24", "--events", "6000", "--sources", "150", "--quiet"]


def run_cli(tmp_path: Path, *extra: str) -> dict[str, object]:
    out = tmp_path / "results.json"
    code = main(["exercise", *SMALL, "--json", str(out), *extra])
    assert code == 0
    return json.loads(out.read_text())


def test_json_contract(tmp_path: Path) -> None:
    doc = run_cli(
        tmp_path,
        "--compare",
        "unilateral,nato,anzus,un,league",
        "--seed",
        "7",
        "--html",
        str(tmp_path / "report.html"),
    )
    assert doc["seed"] == 7 and doc["members"] == 24
    assert doc["campaign"]["events"] == 6000  # type: ignore[index]
    treaties = doc["treaties"]
    assert list(treaties) == ["unilateral", "nato", "anzus", "un", "league"]  # type: ignore[call-overload]
    for r in treaties.values():  # type: ignore[attr-defined]
        for key in (
            "attacks_absorbed",
            "attacks_blocked",
            "false_bans",
            "protection_delay_p50_s",
            "protection_delay_p95_s",
            "decisions",
            "consultations",
        ):
            assert key in r
        assert r["attacks_absorbed"] + r["attacks_blocked"] == 6000
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_same_seed_same_json(tmp_path: Path) -> None:
    a = run_cli(tmp_path, "--compare", "nato,unilateral", "--seed", "5")
    b = run_cli(tmp_path, "--compare", "nato,unilateral", "--seed", "5")
    c = run_cli(tmp_path, "--compare", "nato,unilateral", "--seed", "6")
    assert a == b
    assert a["treaties"] != c["treaties"]


def test_quorum_sweep_is_recorded(tmp_path: Path) -> None:
    doc = run_cli(tmp_path, "--compare", "nato", "--sweep", "quorum=1..3")
    sweep = doc["sweeps"][0]  # type: ignore[index]
    assert sweep["parameter"] == "quorum" and sweep["values"] == [1.0, 2.0, 3.0]
    rows = sweep["treaties"]["nato"]
    assert len(rows) == 3
    # A higher quorum never issues more decisions on the same campaign.
    assert rows[0]["decisions"] >= rows[1]["decisions"] >= rows[2]["decisions"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--compare", "nato,natto"], "unknown treaty template 'natto'", id="unknown-treaty"
        ),
        pytest.param(
            ["--sweep", "qurum=1..3"], "sweep 'qurum=1..3' is not NAME=A..B", id="unknown-sweep"
        ),
        pytest.param(["--sweep", "quorum=5..1"], "has bad values '5..1'", id="reversed-range"),
        pytest.param(
            ["--param", "nat_share=2"], "nat_share=2.0 is out of range", id="bad-param-value"
        ),
        pytest.param(["--param", "colour=red"], "unknown parameter 'colour'", id="unknown-param"),
        pytest.param(["--compare", "nato,nato"], "names a treaty twice", id="duplicate"),
        pytest.param(["--members", "0"], "members=0 is out of range", id="no-members"),
    ],
)
def test_user_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exercise", *SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_override_rewrites_the_treaty_and_validates_it() -> None:
    assert load("nato", {"quorum": 4}).quorum == 4
    assert load("nato", {"window": 1800}).window == 1800.0
    with pytest.raises(ValueError, match=r"consultation\.timeout = 900s is longer than"):
        load("nato", {"window": 60})
    text = override('[treaty]\nname = "x"\n', "collective", "quorum", "3")
    assert text.endswith("[collective]\nquorum = 3\n")
    with pytest.raises(ValueError, match="quorum"):
        load("nato", {"quorum": 0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("quorum=1..5", ("quorum", [1.0, 2.0, 3.0, 4.0, 5.0]), id="range"),
        pytest.param("rogue=0,2,4", ("rogue", [0.0, 2.0, 4.0]), id="list"),
        pytest.param("delay_median_s=0.1,1", ("delay_median_s", [0.1, 1.0]), id="floats"),
    ],
)
def test_parse_sweep(text: str, expected: tuple[str, list[float]]) -> None:
    assert parse_sweep(text) == expected
