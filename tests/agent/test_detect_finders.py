"""How the engine finds candidate lines: each line once, several scenarios per line, and
the user-agent finder's two paths (distinct tails, and the plain scan it falls back to)."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from shieldwall.agent.detect import SCENARIOS, DetectConfig, DetectionEngine, Offence
from shieldwall.agent.detect.buckets import BucketTable
from shieldwall.agent.detect.finders import SHIFT, TailFinder, hit_lines

NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))
STAMP = "[03/Mar/2024:06:31:12 +0000]"


def access(ip: str, path: str = "/", status: int = 200, ref: str = "-", ua: str = "curl/8") -> str:
    return f'{ip} - - {STAMP} "GET {path} HTTP/1.1" {status} 153 "{ref}" "{ua}"'


def found(finder: TailFinder | tuple[bytes, ...] | re.Pattern[bytes], chunk: bytes) -> list[bytes]:
    keys: list[int] = []
    ends: dict[int, int] = {}
    hit_lines(finder, chunk, 3, keys, ends)
    assert all(k & ((1 << SHIFT) - 1) == 3 for k in keys)
    return [chunk[k >> SHIFT : ends[k >> SHIFT]] for k in sorted(keys)]


@pytest.mark.parametrize(
    ("finder", "chunk", "lines"),
    [
        pytest.param((b"x", b"y"), b"a\nxy x\nb y\n", [b"xy x", b"b y"], id="literals-each-line-once"),
        pytest.param((b"x",), b"a\nb x", [b"b x"], id="literal-last-line-without-newline"),
        pytest.param(re.compile(rb"x+"), b"xx x\n\nx", [b"xx x", b"x"], id="regex-each-line-once"),
        pytest.param(TailFinder(b'" "', re.compile(rb"sqlmap")),
                     b'"-" "sqlmap"\n"-" "curl"\nsqlmap "-" "x"\n"-" "sqlmap"',
                     [b'"-" "sqlmap"', b'"-" "sqlmap"'], id="tail-and-last-line"),
        pytest.param(TailFinder(b'" "', re.compile(rb"sqlmap"), max_tails=0),
                     b'"-" "sqlmap"\n"-" "curl"\nsqlmap "-" "x"\n"-" "sqlmap"',
                     [b'"-" "sqlmap"', b'sqlmap "-" "x"', b'"-" "sqlmap"'], id="tail-fallback-scan"),
        pytest.param(TailFinder(b'" "', re.compile(rb"sqlmap")), b'"-" "curl"\n', [], id="tail-none"),
    ],
)  # fmt: skip
def test_hit_lines(finder: TailFinder, chunk: bytes, lines: list[bytes]) -> None:
    assert found(finder, chunk) == lines


def test_a_line_counts_for_every_scenario_it_matches() -> None:
    line = access("203.0.113.7", "/.env", 404, ua="sqlmap/1.7.2")
    engine = DetectionEngine(record_events=True)
    offences = engine.feed(f"noise\n{line}\n".encode(), NOW)
    assert [(e.line, e.scenario) for e in engine.events] == [
        (2, "http-scan"),
        (2, "http-sensitive-path"),
        (2, "http-bad-user-agent"),
    ]
    assert [o.scenario for o in offences] == ["http-bad-user-agent"]


BAD_AGENT_LINES = [
    ('Mar  3 06:31:12 web1 kernel: sqlmap " "sqlmap"', False),  # not an access line
    (access("192.0.2.1", ua="sqlmap/1.7.2"), True),
    (access("192.0.2.2", ua="Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"), True),
    (access("192.0.2.3", ua='quoted \\"masscan\\" inside'), True),
    (access("192.0.2.4", ref="http://sqlmap.example/"), False),  # the referer is not the agent
    (access("192.0.2.5", path="/sqlmap"), False),
    (access("192.0.2.6", ua="curl/8") + ' "zgrab"', False),  # an extra field after the agent
    (access("192.0.2.7", ua="zgrab/0.x") + ' "extra"', True),
    (f'192.0.2.8 - - {STAMP} "GET / HTTP/1.1" 200 153', False),  # no agent field
    (access("192.0.2.9", ua="Nmap Scripting Engine") + "\r", True),
    (access("192.0.2.10", ua="sqlmap/1.7.2"), True),  # the same agent as the first
]


@pytest.mark.parametrize("max_tails", [0, 1, 8], ids=["scan", "tails-overflow", "tails"])
@pytest.mark.parametrize("final_newline", [True, False], ids=["newline", "no-final-newline"])
def test_bad_agent_finder_paths_agree(
    monkeypatch: pytest.MonkeyPatch, max_tails: int, final_newline: bool
) -> None:
    scenario = SCENARIOS["http-bad-user-agent"]
    finder = dataclasses.replace(scenario.finder, max_tails=max_tails)  # type: ignore[type-var]
    monkeypatch.setitem(SCENARIOS, scenario.name, dataclasses.replace(scenario, finder=finder))
    lines = [line for line, _ in BAD_AGENT_LINES] * 2
    chunk = "\n".join(lines).encode() + (b"\n" if final_newline else b"")
    engine = DetectionEngine(DetectConfig().only([scenario.name]), record_events=True)
    engine.feed(chunk, NOW)
    expected = [n + 1 for n, line in enumerate(lines) if dict(BAD_AGENT_LINES)[line]]
    assert [e.line for e in engine.events] == expected


def test_bucket_of_capacity_zero_offends_at_once_and_keeps_nothing() -> None:
    table = BucketTable("http-bad-user-agent", capacity=0, leak=1 / 60, max_buckets=16)
    offence = table.add(b"192.0.2.1", 10.0, 7)
    assert offence == Offence("http-bad-user-agent", "192.0.2.1", 1, 10.0, 10.0, (7,))
    assert len(table) == 0
