"""What the CLI prints: report results, decision listings, keys, and its refusals."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from shieldwall.cli import did_you_mean, main
from shieldwall.cli.common import CLIError
from shieldwall.cli.decisions import show_decisions
from shieldwall.cli.report import check_scenario, reported_line
from shieldwall.client import HubClient, HubError
from tests.conftest import refused

LONG_V6 = "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"
WIDE_RANGE = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0/112"


def decision(id_: int, target: str) -> dict:
    return {
        "id": id_,
        "target": target,
        "action": "ban",
        "recommended": False,
        "scenario": "ssh-bruteforce",
        "clause": "art5.quorum",
        "members": ["alpha", "bravo", "charlie"],
        "expires_at": 1_800_003_600.0,
    }


@pytest.mark.parametrize(
    ("result", "line"),
    [
        pytest.param(
            {"consultations": [3]},
            "reported 198.18.7.7: consultation #3 open, awaiting corroboration by other members",
            id="one-consultation-is-an-id",
        ),
        pytest.param({"decisions": [4]}, "reported 198.18.7.7: decision #4 issued", id="decision"),
        pytest.param(
            {"decisions": [4, 5]}, "reported 198.18.7.7: decisions #4, #5 issued", id="decisions"
        ),
        pytest.param(
            {"no_action": [{"target": "198.18.7.7", "reason": "already banned"}]},
            "reported 198.18.7.7: already banned",
            id="no-action",
        ),
    ],
)
def test_reported_line(result: dict, line: str) -> None:
    assert reported_line("198.18.7.7", result) == line


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("sshbrute", "did you mean 'ssh-bruteforce'?", id="near-miss"),
        pytest.param("http-scna", "did you mean 'http-scan'?", id="typo"),
        pytest.param("zzz", "give one of dovecot-auth, ", id="far-off"),
        pytest.param("fail2ban-", "or fail2ban-JAIL for a fail2ban jail", id="jail-without-name"),
    ],
)
def test_unknown_scenarios_are_refused(name: str, message: str) -> None:
    with pytest.raises(CLIError, match=f"scenario {name!r} is unknown") as caught:
        check_scenario(name)
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["ssh-bruteforce", "http-scan", "fail2ban-sshd"])
def test_known_scenarios_pass(name: str) -> None:
    assert check_scenario(name) == name


def test_report_refuses_an_unknown_scenario_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "m.key"
    assert main(["keygen", str(key)]) == 0
    capsys.readouterr()
    args = ["report", "--hub", "http://127.0.0.1:9", "--name", "m", "--key", str(key)]
    line = refused([*args, "203.0.113.9", "sshbrute"], capsys)
    assert "did you mean 'ssh-bruteforce'?" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["decisons", "list"], "unknown command 'decisons': did you mean 'decisions'?"),
        pytest.param(["decisions", "lst"], "unknown command 'lst': did you mean 'list'?"),
        pytest.param(["treaty", "amnd"], "unknown command 'amnd': did you mean 'amend'?"),
    ],
)
def test_mistyped_commands_get_a_suggestion(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in refused(argv, capsys)


def test_did_you_mean_leaves_other_messages_alone() -> None:
    assert did_you_mean("the following arguments are required: --data") == (
        "the following arguments are required: --data"
    )


@pytest.mark.parametrize(
    ("target", "width", "table"),
    [
        pytest.param(LONG_V6, 80, False, id="ipv6-80-columns"),
        pytest.param(WIDE_RANGE, 80, False, id="ipv6-range-80-columns"),
        pytest.param(WIDE_RANGE, 140, True, id="ipv6-range-wide-terminal"),
        pytest.param("203.0.113.9", 120, True, id="ipv4-table"),
    ],
)
def test_listing_never_cuts_a_target(target: str, width: int, table: bool) -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    show_decisions([decision(1, target), decision(2, "203.0.113.9")], out)
    lines = buffer.getvalue().splitlines()
    assert any(target in line for line in lines), lines
    assert "…" not in "".join(lines)
    assert max(len(line) for line in lines) <= width
    assert lines[0].startswith("id ") is table


def test_listing_when_piped_is_one_line_per_decision() -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=40, force_terminal=False, color_system=None)
    show_decisions([decision(1, LONG_V6)], out)
    assert buffer.getvalue().splitlines() == [
        "id\ttarget\taction\tscenario\tclause\tmembers\texpires",
        f"1\t{LONG_V6}\tban\tssh-bruteforce\tart5.quorum\talpha,bravo,charlie\t"
        "2027-01-15 09:00:00Z",
    ]


def test_keygen_labels_what_it_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "m.key"
    assert main(["keygen", str(key)]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first == f"private key written to {key} (mode 0600): keep it on this member"
    assert second.startswith("public key: ") and len(second) > len("public key: ") + 40


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        pytest.param(
            "https://127.0.0.1:8470",
            "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)",
            "hub at https://127.0.0.1:8470 does not speak HTTPS: use http:// or serve the hub "
            "with --tls-cert and --tls-key",
            id="https-to-plain",
        ),
        pytest.param(
            "http://hub.example:8470",
            "[Errno -2] Name or service not known",
            "hub name 'hub.example' cannot be resolved: check the host name in --hub "
            "http://hub.example:8470",
            id="unresolvable",
        ),
        pytest.param(
            "http://127.0.0.1:8470",
            "[Errno 111] Connection refused",
            "hub at http://127.0.0.1:8470 is unreachable (ConnectError): start it with "
            "'shieldwall hub serve' or check --hub",
            id="down",
        ),
    ],
)
def test_connection_failures_say_which(url: str, error: str, message: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(error, request=request)

    client = HubClient(url, transport=httpx.MockTransport(fail))
    with pytest.raises(HubError) as caught:
        client.members()
    assert str(caught.value) == message
