"""Enforcers: turn the decisions a member accepts into firewall state.

Backends: ``nftables`` (default on Linux), ``ipset`` (+ iptables), ``file`` (one
address or range a line, for nginx, haproxy and other tools), ``dryrun`` (logs only)
and ``memory`` (tests, exercises). See docs/enforcement.md.
"""

from shieldwall.agent.enforce.base import (
    CommandResult,
    CommandRunner,
    Enforcer,
    EnforcerError,
    Entry,
    RecordingRunner,
    Runner,
    entries_from_decisions,
)

__all__ = [
    "CommandResult",
    "CommandRunner",
    "Enforcer",
    "EnforcerError",
    "Entry",
    "RecordingRunner",
    "Runner",
    "entries_from_decisions",
]
