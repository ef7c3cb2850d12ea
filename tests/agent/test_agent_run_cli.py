"""``shieldwall agent run``: refusals at start are one line naming the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.signing import SigningKey
from tests.conftest import refused


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\nname = "m1"\nhub = "http://127.0.0.1:9"\nkey = "m1.key"\ndata = "state"\n'
        f'\n[enforcer]\nbackend = "dryrun"\n{extra}'
    )
    return path


@pytest.mark.parametrize(
    ("mode", "extra", "message"),
    [
        pytest.param(
            0o644, "", "is readable by other users (mode 644): run 'chmod 600 ", id="key-0644"
        ),
        pytest.param(
            0o640, "", "is readable by other users (mode 640): run 'chmod 600 ", id="key-0640"
        ),
        pytest.param(0o600, "verdict = 1\n", "key 'verdict' does not apply to dryrun", id="enf"),
        pytest.param(None, "", "does not exist: create one with 'shieldwall keygen", id="no-key"),
    ],
)
def test_start_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int | None, extra: str, message: str
) -> None:
    key = tmp_path / "m1.key"
    if mode is not None:
        SigningKey.generate().save(key)
        key.chmod(mode)
    assert message in refused(["agent", "run", "--config", str(config(tmp_path, extra))], capsys)


def test_private_key_never_shown() -> None:
    key = SigningKey.generate()
    secret = key.private_text().split(":", 1)[1]
    assert secret not in repr(key) and secret not in str(key)
