"""Lines matched once per shape: the memo gives what running every regex on every
line gives, for fail2ban's own filters and samples, for storm logs, and for lines
made to differ only in their digits."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from benchmarks.storm_log import lines as storm_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldwall.interop.fail2ban.dates import SYSLOG_HEAD, DateDetector
from shieldwall.interop.fail2ban.digits import AS_ZERO, digit_blind
from shieldwall.interop.fail2ban.engine import FilterEngine, LineResult
from shieldwall.interop.fail2ban.filter import FilterDefinition, load_filter
from shieldwall.interop.fail2ban.mlfid import ConnectionIds, first_line
from shieldwall.interop.fail2ban.shapes import MAX_SHAPE, MAX_SHAPES
from tests.interop.test_fail2ban_stock import STOCK, TEST_NOW, samples_dir

SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")


@pytest.mark.parametrize(
    ("pattern", "blind"),
    [
        (r"port \d+", True),
        (r"[0-9a-fA-F]{1,4}", True),
        (r"[\d5]", True),  # the class holds every digit anyway
        (r"[/-:]", True),  # a range over all ten
        (r"[^\d]x", True),
        (r"\S+ \w+ . \b(?=\s)", True),
        (r"(?P<a>x)?(?(a)\d|y)", True),
        (r"(?<=:)\d(?!\d)", True),
        (r"(?>\d+)\d*+", True),
        (r":\s*11:", False),  # literal digits
        (r"[0-5]\d", False),  # some digits, not all
        (r"[^5]", False),
        (r"[\s5]", False),
        (r"(\d)\1", False),  # a back reference compares the digits
        (r"[", False),  # not a regex: not sure
    ],
)
def test_digit_blind(pattern: str, blind: bool) -> None:
    assert digit_blind(pattern) is blind


def test_the_sshd_regexes_are_digit_blind_but_two() -> None:
    definition = load_filter(SSHD)
    assert definition.prefregex is not None
    assert digit_blind(definition.prefregex.pattern, definition.prefregex.flags)
    reading = [r.index for r in definition.failregex if not digit_blind(r.regex.pattern)]
    assert len(reading) == 2, reading  # the ones with "3: " and "11:" in them


_TEXT = st.text(alphabet="ab0123456789 :.[]-xyzF\n", max_size=40)
_BLIND = [r"(\d+)\.(\d{1,3})", r"(?:a|\d)+(\d)?", r"\b(\w+)\s*(?=\d)", r"[0-9a-f]{2,3}(x)?"]


@settings(max_examples=300, deadline=None, database=None)
@given(_TEXT, st.sampled_from(_BLIND), st.randoms(use_true_random=False))
def test_a_digit_blind_regex_matches_texts_differing_in_digits_alike(
    text: str, pattern: str, rng: random.Random
) -> None:
    """The property the memo rests on, checked on the regex engine itself."""
    assert digit_blind(pattern)
    other = "".join(rng.choice("0123456789") if c.isdigit() else c for c in text)
    regex = re.compile(pattern)
    a, b = regex.search(text), regex.search(other)
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert a.regs == b.regs


# -- the memo against every regex on every line --------------------------------------


def _results(definition: FilterDefinition, chunks: list[bytes], *, shapes: bool, check_all: bool) -> list[LineResult]:  # fmt: skip
    engine = FilterEngine(definition, check_all=check_all)
    if not shapes:
        engine._shapes = engine._holds = None  # every regex on every line
    found: list[LineResult] = []
    for chunk in chunks:
        found += engine.feed(chunk, TEST_NOW)
    return found


def _chunks(data: bytes, size: int) -> list[bytes]:
    out, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + size) + 1
        end = len(data) if end <= start else end
        out.append(data[start:end])
        start = end
    return out


@pytest.mark.parametrize("path", STOCK, ids=[p.stem for p in STOCK])
def test_the_memo_finds_what_every_regex_on_every_line_finds_in_fail2bans_samples(path: Path) -> None:  # fmt: skip
    sample = samples_dir() / path.stem
    if not sample.is_file():
        pytest.fail(f"fail2ban ships no samples for {path.stem}: check this filter by hand")
    definition = load_filter(path)
    data = sample.read_bytes()
    data = data + data  # the second time round, every shape is known
    for check_all in (False, True):
        ours = _results(definition, _chunks(data, 4096), shapes=True, check_all=check_all)
        each = _results(definition, _chunks(data, 4096), shapes=False, check_all=check_all)
        assert ours == each


@pytest.mark.parametrize("share", [0.1, 0.4, 0.8])
def test_the_memo_finds_what_every_regex_on_every_line_finds_in_a_storm(share: float) -> None:
    definition = load_filter(SSHD)
    seed = random.Random(share).randrange(1 << 30)
    data = ("\n".join(storm_lines(20_000, share, seed)) + "\n").encode()
    engine = FilterEngine(definition)
    assert engine._shapes is not None and engine._holds is not None
    for check_all in (False, True):
        ours = _results(definition, _chunks(data, 65536), shapes=True, check_all=check_all)
        each = _results(definition, _chunks(data, 65536), shapes=False, check_all=check_all)
        assert ours == each
        assert sum(r.matched for r in ours) > share * 15_000


_SHAPES = [
    "Failed password for {user} from {ip} port {n} ssh2",
    "Failed password for invalid user {user} from {ip} port {n} ssh2",
    "Failed publickey for {user} from {ip} port {n} ssh2",
    "Invalid user {user} from {ip} port {n}",
    "Accepted password for {user} from {ip} port {n} ssh2",
    "Received disconnect from {ip} port {n}:{code}: bye",
    "Received disconnect from {ip} port {n}:{code}: x: Auth fail [preauth]",
    "Connection closed by {ip} port {n} [preauth]",
    "Disconnected from invalid user {user} {ip} port {n} [preauth]",
]


@st.composite
def _sshd_lines(draw: Any) -> str:
    """sshd lines of a few shapes whose digits (addresses, ports, ids, sshd's codes, the
    stamp) vary: some codes count (11, 3), some do not; some days are none."""

    def digits(size: int) -> str:  # few sizes, so that many lines share a shape
        return draw(st.text(alphabet="0123456789", min_size=size, max_size=size))

    user = draw(st.sampled_from(["root", "a b", "x1", "invalid user 99", ""]))
    ip = ".".join(digits(draw(st.sampled_from([1, 3]))) for _ in range(4))
    code = draw(st.sampled_from(["11", "12", "3", "4", "21", "13"]))
    message = draw(st.sampled_from(_SHAPES)).format(user=user, ip=ip, n=digits(4), code=code)
    day = draw(st.sampled_from([" 1", " 9", "10", "29", "31", "00", " 3", "03", "30"]))
    clock = f"{draw(st.integers(0, 29)):02d}:{draw(st.integers(0, 59)):02d}:{draw(st.integers(0, 59)):02d}"
    pid = draw(st.sampled_from(["1", "2", "12", "21"]))  # ids shared by lines: merged
    return f"Mar {day} {clock} h{digits(1)} sshd[{pid}]: {message}"


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(_sshd_lines(), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_lines_differing_in_digits_are_found_alike_with_and_without_the_memo(
    skeletons: list[str], rng: random.Random
) -> None:
    """Each line is one of a few drawn lines with every digit drawn again: lines of one
    shape, different digits (sshd's code 11 becomes 13 or 31, a day 00, an hour 29)."""
    lines = [
        re.sub(r"[0-9]", lambda _: rng.choice("0123456789"), rng.choice(skeletons))
        for _ in range(40)
    ]
    definition = load_filter(SSHD)
    data = ("\n".join(skeletons + lines) + "\n").encode()
    for check_all in (False, True):
        ours = _results(definition, [data], shapes=True, check_all=check_all)
        assert ours == _results(definition, [data], shapes=False, check_all=check_all)


def test_a_failregex_reading_a_digit_runs_on_each_line_of_a_shape() -> None:
    """sshd's "Received disconnect ... :11:" is a helper line, ":12:" is not: one shape,
    two outcomes, so that failregex is run per line (the memo would repeat the first)."""
    lines = [
        "Mar  3 06:00:00 h sshd[1]: Received disconnect from 192.0.2.1 port 22:11: bye",
        "Mar  3 06:00:00 h sshd[2]: Received disconnect from 192.0.2.1 port 22:12: bye",
        "Mar  3 06:00:00 h sshd[3]: Received disconnect from 192.0.2.1 port 22:11: bye",
    ]
    data = ("\n".join(lines) + "\n").encode()
    found = _results(load_filter(SSHD), [data], shapes=True, check_all=False)
    assert [r.line for r in found] == [1, 3]
    assert found == _results(load_filter(SSHD), [data], shapes=False, check_all=False)


def test_the_memo_is_bounded_and_skips_long_and_non_ascii_lines() -> None:
    definition = load_filter(SSHD)
    engine = FilterEngine(definition)
    shapes = engine._shapes
    assert shapes is not None
    users = [f"u{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676 % 26)}" for i in range(MAX_SHAPES + 10)]  # fmt: skip
    text = "".join(f"Mar  3 06:00:00 h sshd[1]: Invalid user {u} from 192.0.2.{len(u)} port 22\n" for u in users)  # fmt: skip
    found = engine.feed(text.encode(), TEST_NOW)
    assert len(found) == len(users)  # every line matched, the memo started again once full
    assert 0 < len(shapes.kept) <= MAX_SHAPES
    before = dict(shapes.kept)
    long_user = "x" * MAX_SHAPE
    odd = f"Mar  3 06:00:01 h sshd[2]: Invalid user {long_user} from 192.0.2.1 port 22\n"
    odd += "Mar  3 06:00:01 h sshd[3]: Invalid user jörg from 192.0.2.2 port 22\n"
    found = engine.feed(odd.encode(), TEST_NOW)
    assert [r.host for r in found] == ["192.0.2.1", "192.0.2.2"]
    assert shapes.kept == before  # neither is kept


def test_a_prefregex_group_reaching_into_the_line_break_is_matched_line_by_line(
    tmp_path: Path,
) -> None:
    """The engine searches a line with a line break added; a group that takes it, and
    digits, has no span in the line: such a line is matched on its own, never kept."""
    conf = tmp_path / "whole.conf"
    conf.write_text(
        "[Definition]\ndatepattern = {NONE}\n"
        "prefregex = ^<F-MLFID>[0-9.]+\\s*</F-MLFID><F-CONTENT>.*</F-CONTENT>$\n"
        "failregex = ^<HOST>\\s*$\n"
    )
    definition = load_filter(conf)
    data = b"192.0.2.1\n192.0.2.7\n198.51.100.25\n"
    ours = _results(definition, [data], shapes=True, check_all=False)
    assert [r.host for r in ours] == ["192.0.2.1", "192.0.2.7", "198.51.100.25"]
    assert ours == _results(definition, [data], shapes=False, check_all=False)
    engine = FilterEngine(definition)
    engine.feed(data, TEST_NOW)
    assert engine._shapes is not None and not engine._shapes.kept


def test_a_literal_with_a_digit_keeps_the_prefilter_scan(tmp_path: Path) -> None:
    conf = tmp_path / "digits.conf"
    conf.write_text("[Definition]\nfailregex = ^login refused 403 for <HOST>$\n")
    engine = FilterEngine(load_filter(conf))
    assert engine._holds is None
    data = b"login refused 403 for 192.0.2.1\nlogin refused 404 for 192.0.2.2\n"
    assert [r.host for r in engine.feed(data, TEST_NOW)] == ["192.0.2.1"]


# -- the syslog head ------------------------------------------------------------------


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = [f" {d}" for d in range(1, 10)] + [f"{d:02d}" for d in range(1, 32)]


@settings(max_examples=500, deadline=None, database=None)
@given(
    st.sampled_from(_MONTHS),
    st.sampled_from(_DAYS),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.text(alphabet="ab 2019.:[x\t", max_size=12),
)
def test_a_syslog_head_finds_the_date_the_template_finds(
    month: str, day: str, hour: int, minute: int, second: int, tail: str
) -> None:
    """The head stands for the search only where the search reads the head alone:
    with a head the guard takes, the template finds the date at 0 to 15, and so for
    any line that starts with those 17 characters."""
    line = f"{month} {day} {hour:02d}:{minute:02d}:{second:02d} {tail}"
    head = line[:17]
    plain = DateDetector(None)._search(line, TEST_NOW)  # the template's search itself
    detector = DateDetector(None)
    detector.locate("Mar  1 00:00:00 first line", TEST_NOW)  # the syslog template is the last
    assert detector.locate(line, TEST_NOW) == plain
    assert detector.locate(line, TEST_NOW) == plain  # from the head, when it was kept
    if SYSLOG_HEAD.fullmatch(head) is None:  # a year, a fraction or a short line: searched
        assert head not in detector.heads(TEST_NOW)
        return
    assert plain is not None and plain[:2] == (0, 15)
    assert detector.heads(TEST_NOW).get(head) == plain
    for other in ("x", "[pid 1]: y", " 2025 z", ".5"):  # what follows the head is not read
        assert DateDetector(None)._search(head + other, TEST_NOW) == plain


def test_the_syslog_template_is_recognised() -> None:
    detector = DateDetector(None)
    assert detector._syslog >= 0  # else every line pays for its date search again


def test_a_head_followed_by_a_year_is_searched() -> None:
    detector = DateDetector(None)
    line = "Mar  3 06:00:00 2024 host sshd[1]: x"
    assert SYSLOG_HEAD.fullmatch(line[:17]) is None
    found = detector.locate(line, time.time())
    assert found is not None and found[:2] == (0, 20)


def test_heads_are_forgotten_when_another_template_takes_over() -> None:
    detector = DateDetector(None)
    now = TEST_NOW
    detector.locate("Mar  3 06:00:00 h a", now)  # the syslog template is now the last
    detector.locate("Mar  3 06:00:00 h a", now)
    assert detector.heads(now)
    detector.locate("2005-03-03 06:00:00 h b", now)  # another template is the last
    assert not detector.heads(now)
    assert not detector.heads(now + 1)


# -- connection ids: a new id's users become a set when its second line comes ---------


def test_a_second_user_on_a_connection_makes_its_helper_line_a_failure() -> None:
    """fail2ban counts a helper line (``nofail``) of a connection that tried two users;
    the first user now waits in the first line's groups until the second line comes."""
    ids = ConnectionIds()
    first = ids.merge("id", {"user": "root", "ip4": "192.0.2.1", "nofail": None}, 1, 1000.0)
    assert "users" not in first and first["ip4"] == "192.0.2.1"
    second = ids.merge("id", {"user": "admin", "ip4": None, "nofail": "x"}, 2, 1001.0)
    assert second["users"] == {"root", "admin"}
    assert second.get("nofail") is None  # two users: counted
    assert second["ip4"] == "192.0.2.1"  # the host the connection gave first
    ids.merge("other", {"user": "root", "ip4": "192.0.2.2", "nofail": None}, 3, 1002.0)
    again = ids.merge("other", {"user": "root", "ip4": None, "nofail": "x"}, 4, 1003.0)
    assert again.get("nofail") == "x"  # one user: still a helper line
    empty = ids.merge("third", {"user": "", "ip4": "192.0.2.3"}, 5, 1004.0)
    assert "users" not in empty
    assert ids.merge("third", {"user": "root", "ip4": None}, 6, 1005.0)["users"] == {"root"}


def test_zeroed_keys_read_every_digit_as_zero() -> None:
    assert b"sshd[20819] 203.0.113.9".translate(AS_ZERO) == b"sshd[00000] 000.0.000.0"


# -- what a jail counts, and a new connection id taken without a merge ----------------


def _counted(results: list[LineResult], now: float) -> list[tuple[str, float, int]]:
    """What a jail counts of ``results``, read from the records."""
    return [
        (r.host, now if r.time is None else r.time, r.line)
        for r in results
        if not r.ignored and r.host is not None
    ]


@pytest.mark.parametrize("share", [0.1, 0.8])
def test_count_is_what_a_jail_reads_of_the_records(share: float) -> None:
    definition = load_filter(SSHD)
    data = ("\n".join(storm_lines(8_000, share, 7)) + "\n").encode()
    for shapes in (True, False):
        records, counting = FilterEngine(definition), FilterEngine(definition)
        if not shapes:
            for engine in (records, counting):
                engine._shapes = engine._holds = None
        for chunk in _chunks(data, 32768):
            expected = _counted(records.feed(chunk, TEST_NOW), TEST_NOW)
            assert counting.count(chunk, TEST_NOW) == expected
        assert records.lines == counting.lines == 8_000


@pytest.mark.parametrize("path", STOCK, ids=[p.stem for p in STOCK])
def test_count_on_fail2bans_samples(path: Path) -> None:
    sample = samples_dir() / path.stem
    if not sample.is_file():
        pytest.fail(f"fail2ban ships no samples for {path.stem}: check this filter by hand")
    definition = load_filter(path)
    data = sample.read_bytes() * 2
    expected = _counted(_results(definition, [data], shapes=False, check_all=False), TEST_NOW)
    assert FilterEngine(definition).count(data, TEST_NOW) == expected


# ("users" is merge's own set, never a regex group: first_line leaves it to merge)
_GROUPS = ("mlfid", "nofail", "mlfgained", "mlfforget", "mlfpending", "user", "ip4")


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.dictionaries(st.sampled_from(_GROUPS), st.sampled_from([None, "", "x", "root"]), max_size=6),
    st.sets(st.sampled_from(_GROUPS), max_size=3),
)
def test_first_line_tells_what_merge_does_with_a_new_id(
    fixed: dict[str, Any], varying: set[str]
) -> None:
    """Whatever the texts of the groups that hold digits, merge does with a line of a
    new id what first_line says, and keeps its groups as they came."""
    fixed = {k: v for k, v in fixed.items() if k not in varying}
    said = first_line(fixed, frozenset(varying))
    for digits in ("1", "0.0.0.7", "x9"):
        groups = {**fixed, **dict.fromkeys(varying, digits)}
        groups.pop("mlfid", None)
        ids = ConnectionIds()
        merged = ids.merge("id", dict(groups), 1, 1000.0)
        if said is None:
            continue
        keep, nofail = said
        assert ("id" in ids.known) is keep
        assert bool(merged.get("nofail")) is nofail
        if keep:
            kept = dict(groups)
            kept.pop("mlfforget", None)
            assert ids.known["id"][1] == kept == merged


def test_an_id_taken_without_a_merge_merges_its_next_line_as_before() -> None:
    """The quick way keeps a new id's groups unmade; its next line (another user: the
    helper line counts) merges as when the first was merged."""
    lines = [
        "Mar  3 06:00:00 h sshd[7]: Failed password for root from 192.0.2.1 port 2 ssh2",
        "Mar  3 06:00:01 h sshd[7]: Failed password for admin from 192.0.2.1 port 2 ssh2",
        "Mar  3 06:00:02 h sshd[7]: Disconnecting: Too many authentication failures [preauth]",
    ]
    engine = FilterEngine(load_filter(SSHD))
    first = engine.feed((lines[0] + "\n").encode(), TEST_NOW)
    (kept,) = engine._ids.known.values()
    assert isinstance(kept[1], tuple), "the new id was kept without a merge"
    found = first + engine.feed(("\n".join(lines[1:]) + "\n").encode(), TEST_NOW)
    (merged,) = engine._ids.known.values()
    assert isinstance(merged[1], dict) and merged[1]["users"] == {"root", "admin"}
    data = ("\n".join(lines) + "\n").encode()
    assert found == _results(load_filter(SSHD), [data], shapes=False, check_all=False)
    assert [r.host for r in found] == ["192.0.2.1"] * 3


# -- a chunk's dates and shapes read at once: what reading its lines one by one gives --

_STAMPS = [
    "Mar  3 06:00:0{s}",  # syslog: one search per head
    "Mar  3 06:00:0{s}",
    "2026-03-03 06:00:0{s}",  # another template takes over
    "Mar 31 06:00:0{s} 2025",  # a syslog head followed by a year
    "",  # no date: the last line's time
    "[03/Mar/2026:06:00:0{s} +0000]",
]


@settings(max_examples=120, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_STAMPS), st.sampled_from(_SHAPES), st.integers(0, 9)),
        min_size=1,
        max_size=30,
    )
)
def test_a_chunk_read_at_once_finds_what_its_lines_one_by_one_find(
    rows: list[tuple[str, str, int]],
) -> None:
    lines = [
        f"{stamp.format(s=s)} h sshd[{s % 3}]: "
        + shape.format(user="root", ip=f"192.0.2.{s}", n=s, code=11 + s % 2)
        for stamp, shape, s in rows
    ]
    data = ("\n".join(lines) + "\n").encode()
    definition = load_filter(SSHD)
    for check_all in (False, True):
        whole = _results(definition, [data], shapes=True, check_all=check_all)
        one_by_one = _results(
            definition, [line.encode() + b"\n" for line in lines], shapes=True, check_all=check_all
        )
        assert whole == one_by_one
        assert whole == _results(definition, [data], shapes=False, check_all=check_all)
