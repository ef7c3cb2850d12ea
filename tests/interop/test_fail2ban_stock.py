"""fail2ban's own filters, unchanged: every one loads and matches fail2ban's own sample
lines as fail2ban does.

The filters are Debian's (``/etc/fail2ban/filter.d``); the samples are the ones the
fail2ban package installs with its test suite: each sample line carries, in a
``# failJSON:`` comment, whether fail2ban matches it, the host and the time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shieldwall.interop.fail2ban.dates import DateDetector
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from tests.conftest import require_tool

FILTERS = Path("/etc/fail2ban/filter.d")

# fail2ban treats ``*common.conf`` as shared definitions that filters include, never as
# filters (its own sample test skips them the same way).
STOCK = sorted(p for p in FILTERS.glob("*.conf") if not p.name.endswith("common.conf"))

# fail2ban's test clock (its samples' year-less dates are read against it) and zone.
TEST_NOW = 1124013600
TEST_TZ = "CET-01CEST-02,M3.5.0,M10.5.0"


def test_the_stock_filters_are_there() -> None:
    require_tool("fail2ban-regex")
    assert len(STOCK) >= 80, f"only {len(STOCK)} filters in {FILTERS}: is fail2ban installed?"


@pytest.mark.parametrize("path", STOCK, ids=[p.stem for p in STOCK])
def test_stock_filter_loads(path: Path) -> None:
    """Multi-line ones included: no stock filter needs a feature this engine lacks."""
    assert load_filter(path).failregex


# -- fail2ban's samples ------------------------------------------------------------


@cache
def samples_dir() -> Path:
    """Where the fail2ban package keeps its sample logs (beside its tests)."""
    tool = require_tool("fail2ban-regex")
    interpreter = Path(tool).read_text().split("\n", 1)[0].removeprefix("#!").split()
    found = subprocess.run(
        [*interpreter, "-c", "import fail2ban.tests, os; print(os.path.dirname(fail2ban.tests.__file__))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    logs = Path(found) / "files" / "logs"
    if not logs.is_dir():
        pytest.fail(f"fail2ban is installed without its sample logs ({logs})")
    return logs


@dataclasses.dataclass
class Variant:
    """One filter-options combination a sample file asks for (``filterOptions``)."""

    opts: dict[str, Any]
    engine: FilterEngine
    journal: bool


@dataclasses.dataclass
class Expectation:
    file: str
    number: int
    line: str
    want: dict[str, Any]


def _condition(text: str, name: str, opts: dict[str, Any]) -> bool:
    """The few conditions fail2ban's sample files use, evaluated without ``eval``."""
    text = text.strip()
    m = re.fullmatch(r"name\s*==\s*'([^']*)'", text)
    if m:
        return name == m.group(1)
    m = re.fullmatch(r"opts\.get\('([^']*)'\)\s*(==|!=)\s*'([^']*)'", text)
    if m:
        equal = opts.get(m.group(1)) == m.group(3)
        return equal if m.group(2) == "==" else not equal
    raise AssertionError(f"unknown sample condition {text!r}: teach _condition about it")


def _variant(path: Path, opts: dict[str, Any]) -> Variant:
    args = {k: str(v) for k, v in opts.items() if not k.startswith("test.")}
    definition = load_filter(path, args)
    journal = opts.get("logtype") == "journal"
    if journal:  # the journal gives the time: no date is searched in the message
        definition = dataclasses.replace(definition, dates=DateDetector("{NONE}"))
    return Variant(opts, FilterEngine(definition, check_all=True), journal)


def _run_samples(name: str, path: Path) -> Iterator[tuple[Expectation, Variant, list[Any]]]:
    """fail2ban's sample-file protocol: yields each annotated line with what we found."""
    files = [name]
    variants: list[Variant] = []
    common: dict[str, Any] = {}
    number = 0
    i = 0
    while i < len(files):
        source = samples_dir() / files[i]
        i += 1
        want: dict[str, Any] = {}
        skip_block = False
        lines = source.read_text("utf-8", "replace").splitlines()
        for lineno, text in enumerate(lines, 1):
            m = re.match(r"^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$", text)
            if m:
                data = json.loads(m.group(2))
                if m.group(1) == "fileOptions":
                    common = data
                elif m.group(1) == "filterOptions":
                    variants, skip_block = [], False
                    for opts in data if isinstance(data, list) else [data]:
                        opts = {**common, **opts}
                        if opts.get("test.condition"):
                            skip_block = not _condition(opts["test.condition"], name, opts)
                        if not skip_block:
                            variants.append(_variant(path, opts))
                elif m.group(1) == "addFILE":
                    files.append(data)
                else:
                    want = data
                continue
            if skip_block or text.startswith("#") or not text.strip():
                continue
            if not variants:
                variants = [_variant(path, {})]
            number += 1
            expect = Expectation(files[i - 1], lineno, text, want)
            for variant in variants:
                if want.get("constraint") and not _condition(
                    want["constraint"], name, variant.opts
                ):
                    continue
                line = text.rstrip("\r\n")
                if variant.journal and variant.opts.get("test.prefix-line"):
                    line = variant.opts["test.prefix-line"] + line
                result = variant.engine.process_line(line, number, TEST_NOW)
                found = []
                if result is not None:
                    found = [f for f in result.failures if f.host is not None and not f.nofail]
                yield expect, variant, [(f, result) for f in found]
            want = {}


def _same_host(ours: str, theirs: str) -> bool:
    if ours == theirs:
        return True
    try:
        return ipaddress.ip_address(ours) == ipaddress.ip_address(theirs)
    except ValueError:
        return False


def _expected_time(text: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    t = time.strptime(text, fmt)
    return time.mktime(t)


@pytest.fixture
def fail2ban_test_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", TEST_TZ)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("path", STOCK, ids=[p.stem for p in STOCK])
def test_stock_filter_matches_fail2bans_samples(path: Path, fail2ban_test_zone: None) -> None:
    if not (samples_dir() / path.stem).is_file():
        pytest.fail(f"fail2ban ships no samples for {path.stem}: check this filter by hand")
    problems = []
    checked = 0
    for expect, variant, found in _run_samples(path.stem, path):
        checked += 1
        where = f"{expect.file}:{expect.number} {variant.opts or ''}"
        want = expect.want
        if not want.get("match", False):
            if found:
                problems.append(f"{where}: matched, fail2ban does not: {expect.line[:160]}")
            continue
        if not found:
            problems.append(f"{where}: not matched, fail2ban matches: {expect.line[:160]}")
            continue
        failure, result = found[0]
        host = want.get("host")
        if host is not None and not _same_host(failure.host, str(host)):
            problems.append(f"{where}: host {failure.host!r}, fail2ban {host!r}")
        if want.get("time") and not variant.journal and result.time != _expected_time(want["time"]):
            problems.append(f"{where}: time {result.time}, fail2ban {want['time']}")
    assert checked, f"no sample lines read for {path.stem}"
    assert not problems, "\n".join(problems)
