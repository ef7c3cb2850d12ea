"""``shieldwall demo --nftables`` says plainly what it needs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shieldwall.cli.common import CLIError
from shieldwall.cli.demo import check_nftables


def _installed(tool: str) -> str | None:
    return f"/usr/sbin/{tool}"


def _no_nft(tool: str) -> str | None:
    return None if tool == "nft" else f"/usr/sbin/{tool}"


def _no_ip(tool: str) -> str | None:
    return None if tool == "ip" else f"/usr/sbin/{tool}"


@pytest.mark.parametrize(
    ("euid", "which", "message"),
    [
        pytest.param(
            1000,
            _installed,
            "--nftables needs root (it creates network namespaces and nftables rules):"
            " run it as root, or run plain `shieldwall demo`, which needs neither",
            id="not-root",
        ),
        pytest.param(
            0,
            _no_nft,
            "--nftables needs the 'nft' command, which is not installed: install iproute2"
            " and nftables, or run plain `shieldwall demo`",
            id="no-nft",
        ),
        pytest.param(
            0,
            _no_ip,
            "--nftables needs the 'ip' command, which is not installed: install iproute2"
            " and nftables, or run plain `shieldwall demo`",
            id="no-ip",
        ),
    ],
)
def test_refuses_without_what_it_needs(
    euid: int, which: Callable[[str], str | None], message: str
) -> None:
    with pytest.raises(CLIError) as error:
        check_nftables(euid, which)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_root_with_the_tools_may_run() -> None:
    """Root with both tools: no refusal, after looking up each tool it needs."""
    asked: list[str] = []

    def which(tool: str) -> str | None:
        asked.append(tool)
        return _installed(tool)

    assert check_nftables(0, which) is None
    assert asked == ["ip", "nft"]
