"""fail2ban regex tags: ``<HOST>``, ``<ADDR>``, ``<IP4>``, ``<IP6>``, ``<F-NAME>…</F-NAME>``.

The expansions are fail2ban's own, so a filter matches exactly what fail2ban matches.
"""

from __future__ import annotations

import re

IP_4_RE = r"(?:\d{1,3}\.){3}\d{1,3}"
IP_6_RE = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)"
_IPV4 = rf"(?:::f{{4,6}}:)?(?P<ip4>{IP_4_RE})"
_IPV6 = rf"(?P<ip6>{IP_6_RE})"
_DNS = r"(?P<dns>[\w\-.^_]*\w)"
_CIDR = r"(?P<cidr>\d+)"
_ADDR = rf"\[?(?:{_IPV4}|{_IPV6})\]?"
_HOST = rf"(?:{_ADDR}|{_DNS})"
_SUBNET = rf"\[?(?:{_IPV4}|{_IPV6})(?:/{_CIDR})?\]?"

STATIC_TAGS = {
    "IP4": _IPV4,
    "F-IP4/": _IPV4,
    "IP6": _IPV6,
    "F-IP6/": _IPV6,
    "ADDR": _ADDR,
    "F-ADDR/": _ADDR,
    "CIDR": _CIDR,
    "F-CIDR/": _CIDR,
    "SUBNET": _SUBNET,
    "F-SUBNET/": _SUBNET,
    "DNS": _DNS,
    "F-DNS/": _DNS,
    "F-ID/": r"(?P<fid>\S+)",
    "F-PORT/": r"(?P<fport>\w+)",
}
_GROUP_ALIASES = {"id": "fid", "port": "fport"}
_FTAG = re.compile(r"</?[\w\-]+/?>")
_FNAME = re.compile(r"^(/?)F-([A-Z0-9_\-]+)$")
_GLOBAL_FLAGS = re.compile(r"(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)")


FAILURE_ID_GROUPS = ("fid", "ip4", "ip6", "dns", "mlfid")


def expand_tags(regex: str, use_dns: str = "yes") -> str:
    """fail2ban's tag expansion. ``<SKIPLINES>`` (multi-line filters) skips whole lines;
    the lines it skipped stay in the buffer for later matches."""
    open_tags: set[str] = set()
    skips = 0

    def subst(m: re.Match[str]) -> str:
        tag = m.group()
        name = tag[1:-1]
        if name == "HOST":
            return _HOST if use_dns != "no" else _ADDR
        if name == "SKIPLINES":
            nonlocal skips
            skips += 1
            return rf"\n(?P<skiplines{skips - 1}>(?:(?:.*\n)*?))"
        if name in STATIC_TAGS:
            return STATIC_TAGS[name]
        fm = _FNAME.match(name)
        if fm is None:
            return tag
        closing, fname = fm.groups()
        if closing:
            return ")" if fname in open_tags else tag
        open_tags.add(fname)
        group = fname.lower()
        return f"(?P<{_GROUP_ALIASES.get(group, group)}>"

    expanded = _FTAG.sub(subst, regex)
    # ``((?i)x)`` / ``(?:(?i)x)`` -> ``(?i:x)``: Python only allows global flags up front.
    return _GLOBAL_FLAGS.sub(r"\1:", expanded)
