"""CrowdSec's own replay of a log file (``crowdsec -dsn file://LOG -type syslog``).

A private configuration in a temporary directory: CrowdSec's syslog and sshd parsers
and its sshd scenarios from the installed hub (``scripts/bench-deps.sh``), its own
SQLite database, its Local API on a loopback port, no Central API. The replay parses
the whole file, runs the scenarios' buckets, sends the alerts to that Local API and
exits.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from benchmarks.bench_interop import CROWDSEC_PROFILES

ETC = Path("/etc/crowdsec")
# what an sshd replay needs, relative to the installed configuration
PARSERS = (
    "parsers/s00-raw/syslog-logs.yaml",
    "parsers/s01-parse/sshd-logs.yaml",
    "parsers/s02-enrich/dateparse-enrich.yaml",
)
SCENARIOS = ("ssh-bf.yaml", "ssh-slow-bf.yaml")

CONFIG = """\
common:
  daemonize: false
  log_media: file
  log_level: error
  log_dir: {tmp}/log/
  working_dir: {tmp}
config_paths:
  config_dir: {tmp}/
  data_dir: {tmp}/data/
  simulation_path: {tmp}/simulation.yaml
  hub_dir: {hub}/
  index_path: {hub}/.index.json
crowdsec_service:
  acquisition_path: {tmp}/acquis.yaml
  parser_routines: 1
db_config:
  log_level: error
  type: sqlite
  db_path: {tmp}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: {tmp}/local_api_credentials.yaml
  server:
    log_level: error
    listen_uri: 127.0.0.1:{port}
    profiles_path: {tmp}/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
"""


def available() -> bool:
    return bool(shutil.which("crowdsec") and shutil.which("cscli")) and all(
        (ETC / p).exists() for p in PARSERS
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _link(tmp: Path, relative: str) -> None:
    """The hub item installed at ``/etc/crowdsec/<relative>``, installed in ``tmp`` too:
    CrowdSec loads only links that point straight into its hub."""
    target = tmp / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to((ETC / relative).resolve())


def setup(tmp: Path) -> Path:
    """A private configuration in ``tmp``; its path."""
    tmp.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "log"):
        (tmp / sub).mkdir()
    for item in PARSERS:
        _link(tmp, item)
    for name in SCENARIOS:
        _link(tmp, f"scenarios/{name}")
    (tmp / "patterns").symlink_to(ETC / "patterns")
    (tmp / "profiles.yaml").write_text(CROWDSEC_PROFILES)
    (tmp / "simulation.yaml").write_text("simulation: off\n")
    (tmp / "acquis.yaml").write_text("")
    hub = Path("/var/lib/crowdsec/hub")
    config = tmp / "config.yaml"
    config.write_text(CONFIG.format(tmp=tmp, hub=hub, port=_free_port()))
    subprocess.run(
        [
            "cscli", "-c", str(config), "--error", "machines", "add", "bench", "--auto",
            "--force", "-f", str(tmp / "local_api_credentials.yaml"),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return config


def command(config: Path, log: Path) -> list[str]:
    return ["crowdsec", "-c", str(config), "-dsn", f"file://{log}", "-type", "syslog"]
