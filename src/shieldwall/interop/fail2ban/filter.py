"""Loading a fail2ban ``filter.d/*.conf`` into compiled, ready-to-run regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shieldwall.interop.fail2ban.config import Config, ConfigError, Value, read_config
from shieldwall.interop.fail2ban.dates import DateDetector
from shieldwall.interop.fail2ban.prefilter import build_prefilter, prefilter_literals
from shieldwall.interop.fail2ban.tags import FAILURE_ID_GROUPS, expand_tags

_TAG = re.compile(r"<([^ <>]+)>")
MAX_LINES = 1000  # a multi-line buffer longer than this is refused, not kept in memory
_KNOWN_OPTIONS = {
    "failregex",
    "ignoreregex",
    "prefregex",
    "datepattern",
    "journalmatch",
    "maxlines",
    "usedns",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One failregex or ignoreregex line, compiled, with where it was defined."""

    index: int
    source: str
    regex: re.Pattern[str]
    where: str


@dataclass(frozen=True)
class FilterDefinition:
    name: str
    path: str
    failregex: tuple[Rule, ...]
    ignoreregex: tuple[Rule, ...]
    prefregex: re.Pattern[str] | None
    dates: DateDetector
    datepattern: str | None
    journalmatch: tuple[tuple[str, ...], ...]
    prefilter: re.Pattern[bytes] | None
    # The prefilter as strings for bytes.find (same lines, faster); None: use the regex.
    prefilter_literals: tuple[bytes, ...] | None = None
    # fail2ban's maxlines: failregexes run over the last ``maxlines`` lines joined (every
    # line then enters the buffer: there is no prefilter)
    maxlines: int = 1


def parse_filter_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``sshd[mode=aggressive, publickey="any"]`` -> ("sshd", {"mode": "aggressive", ...})."""
    m = re.fullmatch(r"\s*([^\[\]\s]+)\s*(?:\[(.*)\])?\s*", spec, re.S)
    if m is None:
        raise ValueError(f"filter {spec!r} is not NAME or NAME[key=value, ...]: fix the jail")
    args: dict[str, str] = {}
    for part in re.findall(r"""(\w[\w\-]*)\s*=\s*("[^"]*"|'[^']*'|[^,]*)""", m.group(2) or ""):
        key, value = part
        value = value.strip()
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        args[key.lower()] = value
    return m.group(1), args


def load_filter(path: Path | str, args: dict[str, str] | None = None) -> FilterDefinition:
    """Read and compile a filter; raises ConfigError naming file and line on any problem."""
    path = Path(path)
    config = read_config(path)
    if "Definition" not in config.sections:
        raise ConfigError(str(path), "no [Definition] section: this is not a fail2ban filter")
    options = _options(config, args or {})
    use_dns = _text(config, options, "usedns") or "warn"
    if use_dns not in ("yes", "no", "warn", "raw"):
        raise ConfigError(
            options["usedns"].where, f"usedns = {use_dns!r} is not yes, no, warn or raw"
        )
    maxlines_text = (_text(config, options, "maxlines") or "1").strip()
    if not maxlines_text.isdigit() or not 1 <= int(maxlines_text) <= MAX_LINES:
        raise ConfigError(
            options["maxlines"].where,
            f"maxlines = {maxlines_text!r} is not a whole number from 1 to {MAX_LINES}",
        )
    maxlines = int(maxlines_text)
    prefregex = None
    pref_text = _text(config, options, "prefregex")
    if pref_text and pref_text.strip():
        prefregex = _compile(pref_text.strip(), options["prefregex"].where, "prefregex", use_dns)
        if "content" not in prefregex.groupindex:
            raise ConfigError(
                options["prefregex"].where,
                "prefregex has no <F-CONTENT>...</F-CONTENT>: add it around the message part",
            )
    fail = _rules(config, options, "failregex", use_dns, re.MULTILINE if maxlines > 1 else 0)
    if not fail:
        where = options["failregex"].where if "failregex" in options else str(path)
        raise ConfigError(where, "failregex is empty: a filter needs at least one failregex")
    pref_groups = set(prefregex.groupindex) if prefregex is not None else set()
    for rule in fail:
        if not pref_groups.union(rule.regex.groupindex).intersection(FAILURE_ID_GROUPS):
            raise ConfigError(
                rule.where,
                f"failregex #{rule.index + 1} captures no host ({rule.source[:120]!r}): "
                "add <HOST> (or <ADDR>, <F-ID>...), as fail2ban requires",
            )
    ignore = _rules(config, options, "ignoreregex", use_dns)
    datepattern = _text(config, options, "datepattern")
    dp_where = options["datepattern"].where if "datepattern" in options else str(path)
    try:
        dates = DateDetector(datepattern.strip() if datepattern else None, dp_where)
    except ValueError as exc:
        raise ConfigError(dp_where, str(exc).split(": ", 1)[-1]) from None
    journal = _text(config, options, "journalmatch") or ""
    journalmatch = tuple(tuple(line.split()) for line in journal.split("\n") if line.strip())
    # a multi-line buffer takes in every line: no prefilter then
    patterns = [r.regex.pattern for r in fail] if maxlines == 1 else None
    return FilterDefinition(
        name=path.stem,
        path=str(path),
        failregex=fail,
        ignoreregex=ignore,
        prefregex=prefregex,
        dates=dates,
        datepattern=datepattern.strip() if datepattern else None,
        journalmatch=journalmatch,
        prefilter=None if patterns is None else build_prefilter(patterns),
        prefilter_literals=None if patterns is None else prefilter_literals(patterns),
        maxlines=maxlines,
    )


def _options(config: Config, args: dict[str, str]) -> dict[str, Value]:
    options: dict[str, Value] = dict(config.section("DEFAULT"))
    options.update(config.section("Definition"))
    options.update(config.section("Init"))
    for key, value in args.items():
        options[key] = Value(value, "<filter arguments>")
    return options


def _section_of(config: Config, key: str) -> str:
    for name in ("Init", "Definition"):
        if key in config.section(name):
            return name
    return "DEFAULT"


def _text(config: Config, options: dict[str, Value], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if value.where == "<filter arguments>":
        text = value.text
    else:
        text = config.interpolate(_section_of(config, key), key, value, 0)
    return _substitute_tags(config, options, text, value.where)


def _substitute_tags(config: Config, options: dict[str, Value], text: str, where: str) -> str:
    """Resolve ``<option>`` and ``<section/option>`` references, innermost first."""
    for _ in range(100):

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in options and name not in _KNOWN_OPTIONS:
                return _text(config, {**options, name: options[name]}, name) or ""
            if "/" in name:
                section, _, option = name.partition("/")
                section = config._section_name(section)
                if section in config.sections:
                    value = config.raw(section, option.lower())
                    if value is not None:
                        return config.interpolate(section, option.lower(), value, 0)
            return m.group()

        new = _TAG.sub(repl, text)
        if new == text:
            return text
        text = new
    raise ConfigError(where, "tag substitution does not terminate: look for a <tag> loop")


#: Group names the connection-id merge keeps for itself (a set of users, a pending mark):
#: a regex naming one would hand the merge a text where it keeps its own.
_MERGE_OWN = ("users", "mlfpending")


def _compile(source: str, where: str, what: str, use_dns: str, flags: int = 0) -> re.Pattern[str]:
    try:
        regex = re.compile(expand_tags(source, use_dns), flags)
    except re.error as exc:
        raise ConfigError(
            where, f"{what} {source[:120]!r} is not a valid regular expression: {exc}"
        ) from None
    taken = [name for name in _MERGE_OWN if name in regex.groupindex]
    if taken:
        raise ConfigError(
            where,
            f"{what} {source[:120]!r} names a group {taken[0]!r}: the connection-id merge "
            "keeps that name for itself; rename the group",
        )
    return regex


def _rules(
    config: Config, options: dict[str, Value], key: str, use_dns: str, flags: int = 0
) -> tuple[Rule, ...]:
    text = _text(config, options, key)
    if not text:
        return ()
    where = options[key].where
    rules: list[Rule] = []
    for line in text.split("\n"):
        source = line.strip()
        if not source:
            continue
        index = len(rules)
        regex = _compile(source, where, f"{key} #{index + 1}", use_dns, flags)
        rules.append(Rule(index, source, regex, where))
    return tuple(rules)
