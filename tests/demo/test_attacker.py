"""The attacker's connector of ``shieldwall demo --nftables``, on loopback."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest

from shieldwall.demo.attacker import knock, parse_target, run


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_a_completed_connection_reached_the_member(listening: int) -> None:
    answer = knock("127.0.0.1", "127.0.0.1", listening, 2.0)
    assert answer.startswith("reached ")
    assert 0 < int(answer.split()[1]) <= 65535


def test_a_refused_connection_counts_as_dropped() -> None:
    assert knock("127.0.0.1", "127.0.0.1", _closed_port(), 2.0) == "dropped refused"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("10.231.1.1 22\n", ("10.231.1.1", 22), id="ipv4"),
        pytest.param("fd00::1 2222", ("fd00::1", 2222), id="ipv6"),
    ],
)
def test_parses_targets(line: str, expected: tuple[str, int]) -> None:
    assert parse_target(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("10.231.1.1", "is not 'ADDRESS PORT'", id="no-port"),
        pytest.param("10.231.1.1 0", "is not 'ADDRESS PORT'", id="port-zero"),
        pytest.param("10.231.1.1 99999", "is not 'ADDRESS PORT'", id="port-too-big"),
        pytest.param("example.org 22", "'example.org' is not an IP address", id="hostname"),
        pytest.param("a b c", "is not 'ADDRESS PORT'", id="three-words"),
    ],
)
def test_refuses_bad_targets(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(line)


def test_answers_one_line_per_request(listening: int) -> None:
    requests = io.StringIO(f"127.0.0.1 {listening}\nnonsense\n127.0.0.1 {_closed_port()}\n")
    answers = io.StringIO()
    run("127.0.0.1", 2.0, requests, answers)
    lines = answers.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("reached ")
    assert lines[1] == "error 'nonsense' is not 'ADDRESS PORT'"
    assert lines[2] == "dropped refused"
