from __future__ import annotations

import hashlib

import pytest

from shieldwall.core.settings import parse_duration
from shieldwall.core.treaty import CLAUSES, TEMPLATES, load_template, load_treaty, template_text

MINIMAL = '[treaty]\nname = "t"\nversion = 3\n'


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_loads_and_is_hashed(name: str) -> None:
    text = template_text(name)
    t = load_treaty(text)
    assert t.name == name
    assert t.version == 1
    assert t.text == text
    assert t.digest == hashlib.sha256(text.encode()).hexdigest()
    assert hash(t) == hash(load_treaty(text))


@pytest.mark.parametrize(
    ("name", "collective", "expectations"),
    [
        pytest.param("unilateral", "none", {"quorum": 1}, id="unilateral"),
        pytest.param("nato", "automatic", {"quorum": 2, "unanimity": False}, id="nato"),
        pytest.param("anzus", "recommend", {"quorum": 2}, id="anzus"),
        pytest.param("un", "automatic", {"quorum": 3}, id="un"),
        pytest.param("league", "recommend", {"unanimity": True}, id="league"),
    ],
)
def test_templates_say_what_they_mean(
    name: str, collective: str, expectations: dict[str, object]
) -> None:
    t = load_template(name)
    assert t.collective == collective
    for key, value in expectations.items():
        assert getattr(t, key) == value
    if name == "nato":
        assert t.invocation.enabled
    if name == "un":
        assert t.veto.enabled
    if name == "league":
        assert t.deliberation > 0 and t.accession == "unanimity"


def test_minimal_treaty_takes_defaults() -> None:
    t = load_treaty(MINIMAL)
    assert (t.name, t.version, t.collective, t.quorum, t.window) == ("t", 3, "automatic", 2, 900.0)
    assert t.label == "t@3"
    assert t.burden.delay == 30.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("90s", 90.0, id="seconds"),
        pytest.param("15m", 900.0, id="minutes"),
        pytest.param("4h", 14400.0, id="hours"),
        pytest.param("7d", 604800.0, id="days"),
        pytest.param("2w", 1209600.0, id="weeks"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param(120, 120.0, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param("30", 30.0, id="bare-string"),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("4 hours", id="word"),
        pytest.param("-5m", id="negative"),
        pytest.param(True, id="bool"),
        pytest.param(float("inf"), id="infinite"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def _with(section: str, body: str) -> str:
    return f"{MINIMAL}\n[{section}]\n{body}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _with("collective", "qourum = 2"),
            "unknown key 'qourum' in [collective]: did you mean 'quorum'?",
            id="typo-key",
        ),
        pytest.param(
            _with("colective", "quorum = 2"),
            "unknown section [colective]: did you mean [collective]?",
            id="typo-section",
        ),
        pytest.param(
            _with("collective", "zzz = 2"),
            "unknown key 'zzz' in [collective]: the keys of [collective] are mode, quorum",
            id="unknown-key-lists-keys",
        ),
        pytest.param(
            _with("collective", 'quorum = "two"'),
            "collective.quorum = 'two' must be an integer from 1 to 1000",
            id="quorum-string",
        ),
        pytest.param(
            _with("collective", "quorum = 0"),
            "collective.quorum = 0 is out of range: use a value from 1 to 1000",
            id="quorum-zero",
        ),
        pytest.param(
            _with("collective", "quorum = true"),
            "collective.quorum = True must be an integer",
            id="quorum-bool",
        ),
        pytest.param(
            _with("collective", 'mode = "automatik"'),
            "collective.mode = 'automatik' must be one of automatic, recommend, none "
            "(did you mean 'automatic'?)",
            id="mode-typo",
        ),
        pytest.param(
            _with("records", 'retention = "2h"'),
            "records.retention = 7200s is shorter than a day: members offline for longer "
            'would all need a full resynchronisation; keep at least "1d", or 0 to keep',
            id="retention-under-a-day",
        ),
        pytest.param(
            _with("records", 'retention = "forever"'),
            "records.retention = 'forever' must be a duration",
            id="retention-words",
        ),
        pytest.param(
            _with("records", "retention = -1"),
            "records.retention = -1 must be a duration",
            id="retention-negative",
        ),
        pytest.param(
            _with("collective", 'window = "4 hours"'),
            'collective.window = \'4 hours\' must be a duration such as "90s", "15m"',
            id="window-words",
        ),
        pytest.param(
            _with("collective", "window = 0"),
            "collective.window = 0 is out of range: use a value of at least 1 seconds",
            id="window-zero",
        ),
        pytest.param(
            _with("collective", "reputation_threshold = 1.5"),
            "collective.reputation_threshold = 1.5 is out of range: use a value from 0 to 1",
            id="threshold-above-1",
        ),
        pytest.param(
            _with("consultation", 'enabled = "yes"'),
            "consultation.enabled = 'yes' must be true or false",
            id="bool-string",
        ),
        pytest.param(
            '[treaty]\nname = "t"\n',
            "missing key 'version' in [treaty]: add version = 1",
            id="missing-version",
        ),
        pytest.param(
            '[treaty]\nname = "bad name!"\nversion = 1\n',
            "treaty.name = 'bad name!' must be a name of letters",
            id="bad-name",
        ),
        pytest.param(
            _with("ladder", 'rungs = [{ action = "nuke", duration = "1h" }]'),
            "rung 1 has action 'nuke': use one of watch, throttle, ban",
            id="rung-action",
        ),
        pytest.param(
            _with("ladder", 'rungs = [{ action = "ban", duration = "soon" }]'),
            "rung 1 has duration 'soon'",
            id="rung-duration",
        ),
        pytest.param(
            _with("ladder", "rungs = []"),
            "ladder.rungs = [] must be a non-empty list of rungs",
            id="rungs-empty",
        ),
        pytest.param(
            _with("ladder", 'rungs = [{ action = "ban" }]'),
            "rung 1 must have exactly the keys action and duration",
            id="rung-keys",
        ),
        pytest.param(
            _with("ladder", 'rungs = [{ action = "ban", duration = "60d" }]'),
            "ladder rung 1 lasts 5.184e+06s, beyond ladder.max_duration",
            id="rung-beyond-max",
        ),
        pytest.param(
            _with("protected", 'ranges = [{ network = "10.0.0.1/33", label = "x" }]'),
            "entry 1: address '10.0.0.1/33' is not an IP address",
            id="protected-bad-cidr",
        ),
        pytest.param(
            _with("protected", 'ranges = [{ network = "10.0.0.0/8", label = " " }]'),
            "entry 1 needs a non-empty label",
            id="protected-no-label",
        ),
        pytest.param(
            _with("targets", "max_range_v4 = 40"),
            "targets.max_range_v4 = 40 is out of range: use a value from 1 to 32",
            id="range-width",
        ),
        pytest.param(
            _with("veto", 'permanent = ["a", "a"]\nenabled = true'),
            "veto.permanent = ['a', 'a'] lists a name twice",
            id="veto-duplicate",
        ),
        pytest.param(
            _with("veto", 'permanent = ["a"]'),
            "veto.permanent lists members but veto.enabled = false",
            id="veto-disabled",
        ),
        pytest.param(
            _with("consultation", 'timeout = "1h"'),
            "consultation.timeout = 3600s is longer than collective.window = 900s",
            id="timeout-beyond-window",
        ),
        pytest.param(
            _with("collective", 'deliberation = "5m"'),
            "collective.deliberation = 300s only applies with collective.unanimity = true",
            id="deliberation-without-unanimity",
        ),
        pytest.param(
            _with("collective", 'unanimity = true\ndeliberation = "15m"'),
            "collective.deliberation = 900s must be shorter than consultation.timeout",
            id="deliberation-too-long",
        ),
        pytest.param(
            _with("collective", 'mode = "none"\nunanimity = true'),
            "collective.unanimity = true needs collective action",
            id="unanimity-without-collective",
        ),
        pytest.param(
            _with("invocation", 'enabled = true\nduration = "2d"\nperiod = "1d"'),
            "invocation.period = 86400s is shorter than invocation.duration",
            id="invocation-period",
        ),
        pytest.param(
            _with("reputation", "initial = 0.05"),
            "reputation.initial = 0.05 must lie between reputation.floor (0.1)",
            id="initial-below-floor",
        ),
        pytest.param(
            _with("reputation", "maximum = 0.4\ninitial = 0.3"),
            "collective.reputation_threshold = 0.5 is above reputation.maximum = 0.4",
            id="threshold-unreachable",
        ),
        pytest.param(
            _with("burden", 'policy = "delay"\ndelay = 0'),
            'burden.policy = "delay" needs burden.delay above 0 seconds',
            id="delay-zero",
        ),
        pytest.param(
            _with("burden", 'policy = "shame"'),
            "burden.policy = 'shame' must be one of none, warn, delay, suspend",
            id="burden-policy",
        ),
        pytest.param("[treaty\nname=", "not valid TOML", id="syntax"),
        pytest.param(
            f"{MINIMAL}collective = 3\n",
            "collective is a section of its own; write [collective] on its own line",
            id="section-key-inside-another",
        ),
    ],
)
def test_errors_name_key_value_and_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        load_treaty(text, source="alliance.toml")
    assert str(err.value).startswith("alliance.toml: ")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        pytest.param("", 90 * 86400.0, id="default-90d"),
        pytest.param("[records]\nretention = 0", 0.0, id="zero-keeps-forever"),
        pytest.param('[records]\nretention = "1d"', 86400.0, id="one-day"),
    ],
)
def test_records_retention(body: str, seconds: float) -> None:
    assert load_treaty(f"{MINIMAL}\n{body}\n").records.retention == seconds


def test_section_given_as_value_is_explained() -> None:
    with pytest.raises(ValueError) as err:
        load_treaty('collective = 3\n[treaty]\nname = "t"\nversion = 1\n')
    assert "collective = 3 must be a section: write [collective]" in str(err.value)


def test_unknown_template_suggests() -> None:
    with pytest.raises(ValueError) as err:
        template_text("natoo")
    assert "unknown treaty template 'natoo': did you mean 'nato'?" in str(err.value)


@pytest.mark.parametrize(
    ("template", "text", "expected"),
    [
        pytest.param("nato", "203.0.113.9", ("203.0.113.9", "ip"), id="nato-ip"),
        pytest.param("nato", "198.51.100.0/24", ("198.51.100.0/24", "range"), id="nato-range"),
        pytest.param("nato", "2001:db8:1::/48", ("2001:db8:1::/48", "range"), id="nato-v6-range"),
    ],
)
def test_check_target_accepts(template: str, text: str, expected: tuple[str, str]) -> None:
    t = load_template(template).check_target(text)
    assert (t.text, t.scope) == expected


@pytest.mark.parametrize(
    ("template", "text", "message"),
    [
        pytest.param("nato", "198.51.0.0/16", "broader than the treaty allows (/24", id="v4-wide"),
        pytest.param("nato", "2001:db8::/32", "broader than the treaty allows (/48", id="v6-wide"),
        pytest.param("league", "198.51.100.0/24", "allows single addresses only", id="no-ranges"),
        pytest.param("nato", "999.1.1.1", "is not an IP address", id="bad-ip"),
    ],
)
def test_check_target_refuses(template: str, text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        load_template(template).check_target(text)
    assert message in str(err.value)


def test_clause_names_are_stable() -> None:
    assert {
        "art5.quorum",
        "art5.invocation",
        "art4.consultation",
        "art4.corroborated",
        "art4.expired",
        "self-defence",
        "recommendation",
        "veto",
        "appeal",
        "admin-revoke",
        "unanimity",
        "protected",
        "protected.member",
        "targets.prefix",
        "targets.widen",
        "alert",
        "alert.correlated",
        "shared.local",
        "shared.throttle",
        "shared.shorter",
    } == set(CLAUSES)
    assert all(CLAUSES.values())
