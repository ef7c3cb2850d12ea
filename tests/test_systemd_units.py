"""The service units in contrib/systemd: verified by systemd itself, hardened, and in
step with the paths and options of the program they start."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from shieldwall.agent.paths import DEFAULT_CONFIG, DEFAULT_DATA
from shieldwall.cli import build_parser
from shieldwall.cli.manpage import render
from tests.conftest import require_tool

UNITS = Path(__file__).resolve().parent.parent / "contrib" / "systemd"
SHIPPED_BINARY = "/usr/local/bin/shieldwall"


def settings(unit: Path) -> dict[str, list[str]]:
    """Each key of the unit with its values in order (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def test_both_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    require_tool("man")  # verify looks up Documentation=man:shieldwall(1)
    # The shipped units start /usr/local/bin/shieldwall (README: "Install on a server");
    # verify needs that binary to exist, so the copies start this environment's.
    binary = Path(sys.executable).parent / "shieldwall"
    assert binary.exists(), binary
    for name in ("shieldwall-agent.service", "shieldwall-hub.service"):
        text = (UNITS / name).read_text()
        assert f"ExecStart={SHIPPED_BINARY} " in text
        (tmp_path / name).write_text(text.replace(SHIPPED_BINARY, str(binary)))
    man = tmp_path / "man" / "man1"
    man.mkdir(parents=True)
    (man / "shieldwall.1").write_text(render(build_parser()))
    result = subprocess.run(
        [analyze, "verify", "shieldwall-agent.service", "shieldwall-hub.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MANPATH": str(tmp_path / "man"), "SYSTEMD_LOG_COLOR": "0"},
    )
    # verify warns about unknown keys and values without failing: no output at all
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


HARDENED = {
    "Service.NoNewPrivileges": ["yes"],
    "Service.ProtectSystem": ["strict"],
    "Service.ProtectHome": ["yes"],
    "Service.PrivateTmp": ["yes"],
    "Service.PrivateDevices": ["yes"],
    "Service.ProtectKernelModules": ["yes"],
    "Service.ProtectControlGroups": ["yes"],
    "Service.RestrictSUIDSGID": ["yes"],
    "Service.ConfigurationDirectory": ["shieldwall"],
    "Service.UMask": ["0077"],
}


@pytest.mark.parametrize(
    ("name", "specific"),
    [
        pytest.param(
            "shieldwall-agent.service",
            {
                "Service.CapabilityBoundingSet": ["CAP_NET_ADMIN"],  # nft and ipset only
                "Service.StateDirectory": ["shieldwall/agent"],
                "Service.ExecStart": [f"{SHIPPED_BINARY} agent run"],
                "Service.RestartPreventExitStatus": ["78"],
            },
            id="agent",
        ),
        pytest.param(
            "shieldwall-hub.service",
            {
                "Service.CapabilityBoundingSet": [""],  # none at all
                "Service.DynamicUser": ["yes"],
                "Service.StateDirectory": ["shieldwall/hub"],
            },
            id="hub",
        ),
    ],
)
def test_units_are_hardened(name: str, specific: dict[str, list[str]]) -> None:
    found = settings(UNITS / name)
    for key, value in {**HARDENED, **specific}.items():
        assert found.get(key) == value, key


def test_agent_unit_uses_the_default_paths() -> None:
    found = settings(UNITS / "shieldwall-agent.service")
    assert Path("/etc", found["Service.ConfigurationDirectory"][0]) == DEFAULT_CONFIG.parent
    assert Path("/var/lib", found["Service.StateDirectory"][0]) == DEFAULT_DATA
    args = build_parser().parse_args(shlex.split(found["Service.ExecStart"][0])[1:])
    assert args.config == DEFAULT_CONFIG  # no --config: /etc/shieldwall/agent.toml


def test_hub_unit_command_is_one_the_hub_accepts() -> None:
    found = settings(UNITS / "shieldwall-hub.service")
    (listen,) = (e.partition("=")[2] for e in found["Service.Environment"])
    argv = shlex.split(found["Service.ExecStart"][0].replace("${SHIELDWALL_LISTEN}", listen))
    args = build_parser().parse_args(argv[1:])
    assert (args.hub_action, args.listen) == ("serve", ("127.0.0.1", 8470))
    assert args.data == Path("/var/lib", found["Service.StateDirectory"][0])
