"""fail2ban's INI dialect: sections, multi-line values, ``[INCLUDES]`` and interpolation.

Every value remembers the file and line it came from, so an error or an unsupported
construct can be reported where the user has to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_INCLUDE_DEPTH = 10
MAX_VALUE_LENGTH = 1_000_000
_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?:[;#].*)?$")
_OPTION = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*[=:]\s?(?P<value>.*)$")
_INTERP = re.compile(r"%\((?P<name>[^)]+)\)s")
_INLINE_COMMENT = re.compile(r"\s;.*$")


class ConfigError(ValueError):
    """A fail2ban configuration problem, located by file and line."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    where: str  # "path:line"


@dataclass
class Config:
    """Sections of one or more files merged in fail2ban's order (later files win)."""

    sections: dict[str, dict[str, Value]] = field(default_factory=dict)
    # Values replaced by a later file, for ``%(known/option)s``.
    known: dict[str, dict[str, Value]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Value]:
        return self.sections.get(name, {})

    def raw(self, section: str, option: str) -> Value | None:
        value = self.sections.get(section, {}).get(option)
        if value is None and section != "DEFAULT":
            value = self.sections.get("DEFAULT", {}).get(option)
        return value

    def get(self, section: str, option: str) -> Value | None:
        """The value with ``%(name)s`` interpolation applied, or None when unset."""
        value = self.raw(section, option)
        if value is None:
            return None
        return Value(self.interpolate(section, option, value, 0), value.where)

    def interpolate(self, section: str, option: str, value: Value, depth: int) -> str:
        if depth > 20:
            raise ConfigError(
                value.where, f"interpolation of {option!r} is recursive: break the %(...)s loop"
            )
        if "%" not in value.text:
            return value.text

        def lookup(m: re.Match[str]) -> str:
            name = m.group("name").lower()
            if name == "__name__":
                return section
            sec, opt = section, name
            ref: Value | None
            if "/" in name:
                sec, opt = name.split("/", 1)
                if sec == "known":
                    ref = self.known.get(section, {}).get(opt) or self.known.get("DEFAULT", {}).get(
                        opt
                    )
                    if ref is None:
                        return ""
                    return self.interpolate(section, opt, ref, depth + 1)
                sec = self._section_name(sec)
            ref = self.raw(sec, opt)
            if ref is None:
                raise ConfigError(
                    value.where,
                    f"option {option!r} refers to %({m.group('name')})s, which is not "
                    f"defined in [{sec}] or [DEFAULT]: define it or remove the reference",
                )
            return self.interpolate(sec, opt, ref, depth + 1)

        text = _INTERP.sub(lookup, value.text.replace("%%", "\x00"))
        return text.replace("\x00", "%")

    def _section_name(self, name: str) -> str:
        for candidate in self.sections:
            if candidate.lower() == name.lower():
                return candidate
        return name


def parse_ini(text: str, source: str) -> list[tuple[str, str, str, int]]:
    """(section, option, value, line) tuples in file order; raises ConfigError."""
    rows: list[tuple[str, str, str, int]] = []
    section: str | None = None
    current: list[object] | None = None  # [section, key, [lines], lineno]
    pending_blank = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            pending_blank += 1
            continue
        if stripped.startswith(("#", ";")):
            continue
        if raw[:1].isspace() and current is not None:
            lines = current[2]
            assert isinstance(lines, list)
            lines.extend([""] * pending_blank)
            lines.append(_INLINE_COMMENT.sub("", stripped))
            pending_blank = 0
            continue
        pending_blank = 0
        if current is not None:
            rows.append(_finish(current))
            current = None
        m = _SECTION.match(stripped)
        if m:
            section = m.group("name").strip()
            continue
        m = _OPTION.match(stripped)
        if m is None:
            raise ConfigError(
                f"{source}:{lineno}",
                f"cannot parse {stripped[:80]!r}: expected '[section]' or 'name = value'",
            )
        if section is None:
            raise ConfigError(
                f"{source}:{lineno}", "option before any [section]: add a section header"
            )
        value = _INLINE_COMMENT.sub("", m.group("value")).strip()
        current = [section, m.group("key").strip().lower(), [value], lineno]
    if current is not None:
        rows.append(_finish(current))
    return rows


def _finish(current: list[object]) -> tuple[str, str, str, int]:
    section, key, lines, lineno = current
    assert isinstance(lines, list) and isinstance(lineno, int)
    return str(section), str(key), "\n".join(lines).strip("\n"), lineno


def read_config(path: Path, config: Config | None = None, depth: int = 0) -> Config:
    """Read ``path`` with its ``[INCLUDES]`` and its ``.local`` companion, fail2ban-style."""
    config = config if config is not None else Config()
    if depth > MAX_INCLUDE_DEPTH:
        raise ConfigError(str(path), "includes nested too deeply: look for an include loop")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found: check the path") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror}): check permissions") from None
    if len(data) > MAX_VALUE_LENGTH:
        raise ConfigError(str(path), "file larger than 1 MB: this is not a fail2ban filter")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (byte {exc.start})") from None
    rows = parse_ini(text, str(path))
    before: list[tuple[str, int]] = []
    after: list[tuple[str, int]] = []
    for section, key, value, line in rows:
        if section.upper() != "INCLUDES":
            continue
        if key in ("before", "after"):
            target = before if key == "before" else after
            target.extend((v.strip(), line) for v in value.split("\n") if v.strip())
        else:
            raise ConfigError(
                f"{path}:{line}",
                f"unsupported option {key!r} in [INCLUDES]: only 'before' and 'after' exist",
            )
    for name, _line in before:
        _include(path, name, config, depth)
    _merge(config, rows, path)
    local = path.with_suffix(".local")
    if path.suffix == ".conf" and local.is_file():
        _merge(config, parse_ini(local.read_text("utf-8"), str(local)), local)
    for name, _line in after:
        _include(path, name, config, depth)
    return config


def _include(path: Path, name: str, config: Config, depth: int) -> None:
    target = (path.parent / name).resolve()
    # fail2ban silently skips absent includes (typically the optional *.local files).
    if target.is_file():
        read_config(target, config, depth + 1)


def _merge(config: Config, rows: list[tuple[str, str, str, int]], path: Path) -> None:
    config.files.append(path)
    for section, key, value, line in rows:
        if section.upper() == "INCLUDES":
            continue
        options = config.sections.setdefault(section, {})
        if key in options:
            config.known.setdefault(section, {})[key] = options[key]
        options[key] = Value(value, f"{path}:{line}")
