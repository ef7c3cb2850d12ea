"""``shieldwall exercise`` end to end in-process: JSON contract, sweeps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.core.treaty import template_text
from shieldwall.exercise.sweep import check, load, override, parse_sweep
from shieldwall.exercise.world import Config
from tests.conftest import refused
from tests.exercise.helpers import SMALL


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
        pytest.param(["--compare", "nato,nato"], "names treaty 'nato' twice", id="duplicate"),
        pytest.param(["--members", "0"], "members=0 is out of range", id="no-members"),
        pytest.param(["--members", "-5"], "members=-5 is out of range", id="negative-members"),
        pytest.param(
            ["--members", "10001"],
            "members=10001 is out of range: give an integer from 1 to 10000",
            id="absurd-members",
        ),
        pytest.param(["--members", "many"], "invalid int value: 'many'", id="members-not-a-number"),
        pytest.param(["--sweep", "quorum=1..5x"], "has bad values '1..5x'", id="sweep-range-junk"),
        pytest.param(["--sweep", "quorum=1...5"], "has bad values '1...5'", id="sweep-three-dots"),
        pytest.param(
            ["--sweep", "quorum"], "sweep 'quorum' is not NAME=A..B", id="sweep-no-values"
        ),
        pytest.param(
            ["--sweep", "quorum="], "has 0 points: give between 1 and 50", id="sweep-empty"
        ),
        pytest.param(["--sweep", "rogue=0..100"], "has 101 points", id="sweep-too-many-points"),
        pytest.param(
            ["--sweep", "rogue=0..30"],
            "rogue=25 exceeds the 24 members: give at most 24 rogues",
            id="sweep-more-rogues-than-members",
        ),
        pytest.param(["--sweep", "rogue=-1..2"], "rogue=-1 is out of range", id="sweep-negative"),
        pytest.param(
            ["--sweep", "rogue=1.5,2"], "rogue=1.5 is not a whole number", id="sweep-fraction"
        ),
        pytest.param(
            ["--sweep", "quorum=1.5,2"], "quorum=1.5 is not a whole number", id="sweep-quorum-half"
        ),
        pytest.param(
            ["--sweep", "quorum=0..2"], "collective.quorum = 0 is out of range", id="sweep-quorum-0"
        ),
        pytest.param(
            ["--sweep", "self_defence=0..3"],
            "self_defence=2 is not a boolean: sweep it as self_defence=0..1",
            id="sweep-bool-not-0-or-1",
        ),
        pytest.param(
            ["--param", "slice_s=abc"],
            "parameter slice_s='abc' is not a valid float",
            id="config-param-not-a-number",
        ),
        pytest.param(
            ["--param", "events=7000"],
            "--events 6000 contradicts --param events=7000: give only one",
            id="flag-and-param",
        ),
        pytest.param(
            ["--collude", "--param", "collude=false"],
            "--collude contradicts --param collude=false",
            id="collude-contradiction",
        ),
    ],
)
def test_user_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in refused(["exercise", *SMALL, *args], capsys)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        pytest.param(
            None, "missing.toml", "does not exist: give the path of a treaty", id="missing"
        ),
        pytest.param("dir", "dir.toml", "is a directory", id="directory"),
        pytest.param(b"\xff\xfe", "latin.toml", "is not UTF-8 text: save it as UTF-8", id="binary"),
        pytest.param(b"x = [", "broken.toml", "not valid TOML", id="bad-toml"),
        pytest.param(
            "nato", "nato.toml", "names treaty 'nato' twice", id="file-named-like-a-template"
        ),
    ],
)
def test_treaty_file_errors_name_the_file(
    tmp_path: Path,
    content: bytes | str | None,
    name: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content == "nato":
        path.write_text(template_text("nato"), "utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    err = refused(["exercise", *SMALL, "--compare", f"nato,{path}"], capsys)
    assert message in err and name in err


def three_permanent_members(path: Path) -> Path:
    """The un template with three permanent members named in the file."""
    text = template_text("un").replace("permanent = []", 'permanent = ["p1", "p2", "p3"]')
    assert 'permanent = ["p1"' in text
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(
    ("members", "sweeps"),
    [
        pytest.param(2, [], id="too-few-members"),
        pytest.param(24, [("members", [4.0, 2.0])], id="members-sweep-goes-below"),
    ],
)
def test_more_permanent_members_than_members_is_refused_before_the_run(
    tmp_path: Path, members: int, sweeps: list[tuple[str, list[float]]]
) -> None:
    """Every treaty and every sweep point is checked against the roster before the
    first treaty runs, not when the treaty's turn comes."""
    path = three_permanent_members(tmp_path / "council.toml")
    with pytest.raises(ValueError, match="names 3 permanent members but the exercise has 2"):
        check(Config(members=members), ["nato", str(path)], sweeps)
    check(Config(members=3), ["nato", str(path)], [("members", [3.0, 5.0])])  # enough


def test_permanent_members_refusal_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = three_permanent_members(tmp_path / "council.toml")
    err = refused(["exercise", *SMALL, "--compare", f"nato,{path}", "--members", "2"], capsys)
    assert "names 3 permanent members but the exercise has 2 members: give at least 3" in err


@pytest.mark.parametrize(
    ("flag", "where", "message"),
    [
        pytest.param("--json", "{tmp}", "is a directory: give a file name", id="directory"),
        pytest.param(
            "--html", "{tmp}/nowhere/r.html", "does not exist: create it first", id="no-parent"
        ),
        pytest.param("--json", "{tmp}/file/r.json", "is not a directory", id="parent-is-a-file"),
        pytest.param(
            "--html", "/proc/shieldwall-report.html", "cannot be written", id="unwritable"
        ),
    ],
)
def test_unwritable_outputs_are_refused_before_the_run(
    tmp_path: Path, flag: str, where: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    target = where.format(tmp=tmp_path)
    other = tmp_path / "other.json" if flag == "--html" else tmp_path / "other.html"
    other_flag = "--json" if flag == "--html" else "--html"
    err = refused(["exercise", *SMALL, flag, target, other_flag, str(other)], capsys)
    assert message in err and target in err
    assert not other.exists()  # nothing ran, and the probe of the other path left nothing


def test_same_file_for_json_and_html_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "both")
    assert "--json and --html both write" in refused(
        ["exercise", *SMALL, "--json", out, "--html", out], capsys
    )


def test_malformed_integer_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert "parameter events='1e5' is not a valid int: give e.g. events=100000" in refused(
        ["exercise", "--quiet", "--param", "events=1e5"], capsys
    )


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
        pytest.param("rogue=0..10", ("rogue", [float(v) for v in range(11)]), id="rogue-range"),
        pytest.param("delay_median_s=0.1,1", ("delay_median_s", [0.1, 1.0]), id="floats"),
    ],
)
def test_parse_sweep(text: str, expected: tuple[str, list[float]]) -> None:
    assert parse_sweep(text) == expected
