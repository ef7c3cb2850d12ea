"""Install on a server, as the README says: a wheel built by ``python -m build``,
installed into a fresh virtual environment of its own, and the installed command run
from there (hub, agent init on a tree of sample logs, exercise) with no source tree.

pip installs the wheel's dependencies from the package index (its cache makes a second
run quick); the environment sees no site-packages but its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from shieldwall import __version__
from shieldwall.procs import free_port, stop, wait_healthy

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "agent" / "data"
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE")


def package_data() -> set[str]:
    """Every file of the package that is not Python: it must be in the wheel."""
    package = REPO / "src" / "shieldwall"
    return {
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


def run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``shieldwall`` command of a fresh environment holding only the built wheel."""
    base = tmp_path_factory.mktemp("wheel")
    tree = base / "tree"  # a copy: building writes egg-info and build/ beside the sources
    tree.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(
        REPO / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    dist = base / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(tree)], cwd=base, timeout=600)
    (wheel,) = dist.glob("shieldwall-*.whl")
    (sdist,) = dist.glob("shieldwall-*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert package_data() <= names, package_data() - names
    assert f"shieldwall-{__version__}.dist-info/licenses/LICENSE" in names
    with tarfile.open(sdist) as tf:
        assert f"shieldwall-{__version__}/LICENSE" in tf.getnames()
    env = base / "env"
    run([sys.executable, "-m", "venv", str(env)], cwd=base)
    run(
        [str(env / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        cwd=base,
        timeout=900,
    )
    return env / "bin" / "shieldwall"


def test_installed_command_runs_from_its_own_environment(installed: Path, tmp_path: Path) -> None:
    assert run([str(installed), "--version"], cwd=tmp_path).stdout.strip() == (
        f"shieldwall {__version__}"
    )
    python = installed.parent / "python"
    where = run([str(python), "-c", "import shieldwall; print(shieldwall.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent.parent)
    isolated = run(
        [str(python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"], tmp_path
    )
    assert isolated.stdout.strip() == "True"
    page = run([str(installed), "manpage"], cwd=tmp_path).stdout
    assert page.startswith(".TH SHIELDWALL 1")
    action = run([str(installed), "feeds", "fail2ban-action"], cwd=tmp_path).stdout
    assert "[Definition]" in action


def test_hub_init_agent_init_and_exercise_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    cmd = str(installed)
    hub_init = run([cmd, "hub", "init", "--data", "hub", "--template", "nato", "--json"], tmp_path)
    assert json.loads(hub_init.stdout)["store"].startswith("sqlite")
    port = free_port()
    log = tmp_path / "hub.log"
    with open(log, "wb") as out:
        hub = subprocess.Popen(
            [cmd, "hub", "serve", "--data", "hub", "--listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", hub, log)
        root = tmp_path / "server"
        for sample, where in (
            ("auth.log", "var/log/auth.log"),
            ("access.log", "var/log/nginx/access.log"),
            ("mail.log", "var/log/mail.log"),
        ):
            (root / where).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLES / sample, root / where)
        result = run(
            [
                cmd,
                "agent",
                "init",
                "--root",
                str(root),
                "--config",
                "etc/agent.toml",
                "--data",
                "state",
                "--hub",
                f"http://127.0.0.1:{port}",
                "--name",
                "web-1",
                "--address",
                "192.0.2.10",
                "--enforcer",
                "dryrun",
                "--yes",
                "--json",
            ],
            tmp_path,
        )
        joined = json.loads(result.stdout)
        assert (joined["joined"], joined["status"]) == (True, "pending")
        assert joined["watching"] == [
            "log /var/log/auth.log (sshd)",
            "log /var/log/nginx/access.log (nginx)",
            "log /var/log/mail.log (postfix, dovecot)",
        ]
        assert (tmp_path / "etc" / "agent.key").stat().st_mode & 0o777 == 0o600
    finally:
        stop(hub)
    exercise = run(
        [
            cmd,
            "exercise",
            "--compare",
            "unilateral,nato",
            "--members",
            "20",
            "--events",
            "2000",
            "--sources",
            "50",
            "--no-headline",
            "--quiet",
            "--json",
            "exercise.json",
            "--html",
            "exercise.html",
        ],
        tmp_path,
    )
    assert exercise.returncode == 0
    results = json.loads((tmp_path / "exercise.json").read_text())
    assert set(results["treaties"]) == {"unilateral", "nato"}
    assert "<html" in (tmp_path / "exercise.html").read_text().lower()
