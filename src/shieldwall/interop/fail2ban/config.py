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
    # "path:line" of the first header of each section
    headers: dict[str, str] = field(default_factory=dict)

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
                    # the value an earlier file gave this section's option, else [DEFAULT]'s
                    ref = self.known.get(section, {}).get(opt)
                    if ref is None:
                        ref = self.sections.get("DEFAULT", {}).get(opt)
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


HEADER = ""  # the option name of the row a section header gives


def parse_ini(text: str, source: str) -> list[tuple[str, str, str, int]]:
    """(section, option, value, line) tuples in file order, and (section, HEADER, "",
    line) for each section header; raises ConfigError."""
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
            rows.append((section, HEADER, "", lineno))
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


def read_config(path: Path, config: Config | None = None) -> Config:
    """Read ``path`` as fail2ban reads a configuration: for ``NAME.conf``, the files
    ``NAME.conf``, ``NAME.d/*.conf``, ``NAME.local``, ``NAME.d/*.local`` (those that
    exist), each with its ``[INCLUDES]`` in place: ``before`` files, the file, ``after``
    files, an included file followed by its own ``.local``. Includes already being read
    are skipped (as fail2ban skips them), absent ones too (typically optional ``.local``
    files)."""
    config = config if config is not None else Config()
    if not path.is_file():
        _read_text(path)  # the error that says why
    files = [path]
    if path.suffix == ".conf":
        drop_in = path.with_suffix(".d")
        files += sorted(drop_in.glob("*.conf"))
        files.append(path.with_suffix(".local"))
        files += sorted(drop_in.glob("*.local"))
    parsed: dict[Path, Rows] = {}
    for file in files:
        if file.is_file():
            for part, rows in _with_includes(file, (), parsed):
                _merge(config, rows, part)
    return config


Rows = list[tuple[str, str, str, int]]


def _with_local(path: Path, chain: tuple[Path, ...], parsed: dict[Path, Rows]) -> list[tuple[Path, Rows]]:  # fmt: skip
    ordered = _with_includes(path, chain, parsed)
    local = path.with_suffix(".local")
    if local != path and local.is_file() and local.resolve() not in chain:
        ordered.extend(_with_includes(local, chain, parsed))
    return ordered


def _with_includes(path: Path, chain: tuple[Path, ...], parsed: dict[Path, Rows]) -> list[tuple[Path, Rows]]:  # fmt: skip
    if len(chain) > MAX_INCLUDE_DEPTH:
        raise ConfigError(str(path), "includes nested too deeply: look for an include loop")
    rows = parsed.get(path)
    if rows is None:
        rows = parsed[path] = parse_ini(_read_text(path), str(path))
    includes: dict[str, list[Path]] = {"before": [], "after": []}
    for section, key, value, line in rows:
        if section.upper() != "INCLUDES" or key == HEADER:
            continue
        if key not in includes:
            raise ConfigError(
                f"{path}:{line}",
                f"unsupported option {key!r} in [INCLUDES]: only 'before' and 'after' exist",
            )
        includes[key].extend((path.parent / v.strip()) for v in value.split("\n") if v.strip())
    here = (*chain, path.resolve())
    ordered: list[tuple[Path, Rows]] = []
    for key in ("before", "after"):
        if key == "after":
            ordered.append((path, rows))
        for target in includes[key]:
            if target.resolve() in here or not target.is_file():
                continue
            ordered.extend(_with_local(target, here, parsed))
    return ordered


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found: check the path") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror}): check permissions") from None
    if len(data) > MAX_VALUE_LENGTH:
        raise ConfigError(
            str(path), "file larger than 1 MB: this is not a fail2ban configuration file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"
        ) from None


def _merge(config: Config, rows: Rows, path: Path) -> None:
    config.files.append(path)
    for section, key, value, line in rows:
        if section.upper() == "INCLUDES":
            continue
        options = config.sections.setdefault(section, {})
        if key == HEADER:
            config.headers.setdefault(section, f"{path}:{line}")
            continue
        if key in options:
            config.known.setdefault(section, {})[key] = options[key]
        options[key] = Value(value, f"{path}:{line}")
