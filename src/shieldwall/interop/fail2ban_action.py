"""The fail2ban action bridge: ``action.d/shieldwall.conf``.

Reporting: the action's ``actionban`` runs ``shieldwall report`` so each fail2ban
ban becomes a signed signal of this member (scenario ``fail2ban-<jail>``).
Enforcing: fail2ban-only hosts run ``shieldwall feeds export fail2ban --jail JAIL``
(a ``sh`` script of ``fail2ban-client set JAIL banip …``) from cron, or fetch
``/feeds/fail2ban`` from the hub.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

ACTION_NAME = "shieldwall.conf"


def action_text() -> str:
    """The contents of ``action.d/shieldwall.conf`` shipped with shieldwall."""
    return (resources.files("shieldwall.interop") / "data" / "action.d" / ACTION_NAME).read_text()


def install_action(fail2ban_dir: Path = Path("/etc/fail2ban")) -> Path:
    """Write ``action.d/shieldwall.conf`` under ``fail2ban_dir``; return its path."""
    action_dir = Path(fail2ban_dir) / "action.d"
    if not action_dir.is_dir():
        raise ValueError(
            f"{str(action_dir)!r} is not a directory: give fail2ban's configuration "
            "directory (usually /etc/fail2ban)"
        )
    path = action_dir / ACTION_NAME
    tmp = path.with_name(f".{ACTION_NAME}.tmp")
    tmp.write_text(action_text())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
