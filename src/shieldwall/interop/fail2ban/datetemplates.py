"""fail2ban's date templates: ``datepattern`` text turned into the regexes its detector runs.

A template is a regex whose group ``group`` is the date text fail2ban cuts out of the
line, plus how to read that text (strptime fields, epoch seconds, TAI64N). The rules are
fail2ban's own (``datetemplate.py``, ``datedetector.py``, ``strptime.py``): the same
``%`` codes, including its ``%Ex…`` ones; word boundaries unless the pattern starts with
``^`` or ``**`` (or ends with ``$``, ``\\b``, ``\\s`` or ``**``); ``{^LN-BEG}``, ``{UNB}``,
``{DATE}``, ``{DEFAULT}``, ``{NONE}``, ``EPOCH``, ``LEPOCH``, ``TAI64N``, ``{EPOCH}`` and
fail2ban's list of default templates.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import Enum
from functools import cache

MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _names(group: str, words: list[str]) -> str:
    # longest first, so "june" is not read as "jun" + "e"
    return f"(?P<{group}>{'|'.join(sorted(words, key=len, reverse=True))})"


def _year_centuries(year: int) -> str:
    """fail2ban's ``%ExY``: a 4-digit year from 2000 to three years ahead (log lines are
    never from the future, and the exact year keeps dates from matching random digits)."""
    prefixes = sorted({str(y)[:3] for y in range(2000, year + 4)})
    return f"(?P<Y>(?:{'|'.join(prefixes)})\\d)"


_TZ_ABBR = r"[A-Z](?:[A-Z]{2,4})?"

# The codes fail2ban knows: Python's strptime ones (C locale) with fail2ban's overrides,
# its %k/%l, and its stricter "Ex" variants (exact two digits, known year range, zones).
DIRECTIVES: dict[str, str] = {
    "%": "%",
    "a": _names("a", [d[:3] for d in DAY_NAMES]),
    "A": _names("A", list(DAY_NAMES)),
    "b": _names("b", [m[:3] for m in MONTH_NAMES]),
    "B": _names("B", list(MONTH_NAMES)),
    "d": r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
    "f": r"(?P<f>[0-9]{1,6})",
    "G": r"(?P<G>\d\d\d\d)",
    "H": r"(?P<H>[0-1]?\d|2[0-3])",
    "I": r"(?P<I>1[0-2]|0[1-9]|[1-9])",
    "j": r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
    "k": r" ?(?P<H>[0-2]?\d)",
    "l": r" ?(?P<I>1?\d)",
    "m": r"(?P<m>0?[1-9]|1[0-2])",
    "M": r"(?P<M>[0-5]?\d)",
    "p": r"(?P<p>am|pm)",
    "S": r"(?P<S>[0-5]?\d|6[0-1])",
    "u": r"(?P<u>[1-7])",
    "U": r"(?P<U>5[0-3]|[0-4]\d|\d)",
    "V": r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)",
    "w": r"(?P<w>[0-6])",
    "W": r"(?P<W>5[0-3]|[0-4]\d|\d)",
    "y": r"(?P<y>\d\d)",
    "Y": r"(?P<Y>\d\d\d\d)",
    "z": r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
    "Z": r"(?P<Z>Z|[A-Z]{3,5})",
    "Exd": r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
    "Exm": r"(?P<m>0[1-9]|1[0-2])",
    "ExH": r"(?P<H>[0-1]\d|2[0-3])",
    "Exk": r" ?(?P<H>[0-1]?\d|2[0-3])",
    "Exl": r" ?(?P<I>1[0-2]|\d)",
    "ExM": r"(?P<M>[0-5]\d)",
    "ExS": r"(?P<S>[0-5]\d|6[0-1])",
    "ExY": _year_centuries(time.localtime().tm_year),
    "Exy": r"(?P<y>\d{2})",
    "ExZ": rf"(?P<Z>{_TZ_ABBR})",
    "Exz": rf"(?P<z>(?:{_TZ_ABBR})?[+-][01]\d(?::?\d{{2}})?|{_TZ_ABBR})",
}
# Python's locale composites, in the C locale, built from the codes above.
_COMPOSITES = {"c": "%a\\s+%b\\s+%d\\s+%H:%M:%S\\s+%Y", "x": "%m/%d/%y", "X": "%H:%M:%S"}

_CODE = re.compile(
    "%(" + "|".join(k for k in DIRECTIVES if len(k) > 1) + "|[" + "".join(
        k for k in [*DIRECTIVES, *_COMPOSITES] if len(k) == 1 and k != "%"
    ) + "%])"
)  # fmt: skip
_ALPHA_CODE = re.compile(r"(?<!%)%[aAbBpc]")

# How fail2ban bounds a template (the names are its own flags' meaning).
_GLOBAL_FLAGS = re.compile(r"(?<!\\)\(\?[a-z]+\)")
_NO_WORD_BEGIN = re.compile(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)")
_NO_WORD_END = re.compile(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$")
_HAS_GROUP = re.compile(r"(?<!\(\?)(?<!\\)\((?!\?)")
_GROUP_ALL = re.compile(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$", re.S)
_STARS = re.compile(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$")
_LINE_BEGIN = re.compile(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))")
_LINE_END = re.compile(r"(?<![\\|])(?:\$\)?)$")
_UNBOUND = re.compile(r"^\{UNB\}")
_LN_BEG = re.compile(r"^\{\^LN-BEG\}")
_START_BOUND = re.compile(r"^\((?:\?:)?\^\|\\b\|\\W\)")
_END_BOUND = re.compile(r"\(\?=\\b\|\\W\|\$\)$")
_EPOCH_TAG = re.compile(r"(?<!\\)\{L?EPOCH\}", re.I)
_DATE_TAG = re.compile(r"(?<!\\)\{DATE\}", re.I)
_EPOCH = r"\d{10,11}\b(?:\.\d{3,6})?"
_LONG_EPOCH = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"

WORD_START = "(?=^|\\b|\\W)"
LINE_START = "^(?:\\W{0,2})?"
WORD_END = "(?=\\b|\\W|$)"


class Kind(Enum):
    FIELDS = "fields"  # strptime-style named groups
    EPOCH = "epoch"
    LONG_EPOCH = "long-epoch"  # seconds, milliseconds or microseconds
    TAI64N = "tai64n"


@dataclass(frozen=True, slots=True)
class Template:
    name: str  # what fail2ban calls it; one name is listed once
    pattern: str  # the datepattern text it came from
    regex: re.Pattern[str]
    kind: Kind
    group: int  # the group holding the date text
    line_begin: bool  # bound to the line start (fail2ban's LINE_BEGIN flag)
    line_end: bool  # bound to the line end
    # line-bound: taken as soon as it matches (no search for a date nearer the start)
    anchored: bool


class DatePatternError(ValueError):
    pass


def expand_codes(pattern: str) -> str:
    """The regex of a datepattern: every ``%`` code replaced by fail2ban's group."""
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(pattern):
        out.append(_literal_part(pattern, pattern[pos : m.start()]))
        code = m.group(1)
        if code in _COMPOSITES:
            out.append(expand_codes(_COMPOSITES[code]))
        else:
            out.append(DIRECTIVES[code])
        pos = m.end()
    out.append(_literal_part(pattern, pattern[pos:]))
    return "".join(out)


def _literal_part(pattern: str, text: str) -> str:
    i = text.find("%")
    if i >= 0:
        code = text[i : i + 4] if text[i + 1 : i + 3] == "Ex" else text[i : i + 2]
        raise DatePatternError(
            f"datepattern {pattern!r} uses {code}, which is not supported (fail2ban does not "
            "know it either): use "
            "%Y %m %d %H %M %S %f %b %z (or %ExY %Exd %Exm %ExH %ExM %ExS ...), and %% "
            "for a literal percent sign"
        )
    return text


def bound(
    name: str, pattern: str, regex: str, kind: Kind, group: int, begin: bool | str, end: bool
) -> Template:
    """fail2ban's ``DateTemplate.setRegex``: word or line boundaries, a group around the
    date when the regex has none, ``**`` markers removed, global flags kept in front."""
    regex = regex.strip()
    flags = ""
    gf = _GLOBAL_FLAGS.search(regex)
    if gf:
        flags = gf.group()
        regex = regex[: gf.start()] + regex[gf.end() :]
    bound_begin = bool(begin) and not _NO_WORD_BEGIN.search(regex)
    bound_end = end and not _NO_WORD_END.search(regex)
    if not _HAS_GROUP.search(regex):
        regex = _GROUP_ALL.sub(r"\1(\2)\3", regex, count=1)
    line_begin = False
    if bound_begin:
        if begin == "start":
            regex = LINE_START + regex
            line_begin = True
            if not name.startswith("{^LN-BEG}"):
                name = "{^LN-BEG}" + name
        else:
            regex = WORD_START + regex
    if bound_end:
        regex += WORD_END
    line_begin = line_begin or bool(_LINE_BEGIN.search(regex))
    line_end = bool(_LINE_END.search(regex))
    regex = _STARS.sub(lambda m: m.group().replace("**", ""), regex)
    try:
        compiled = re.compile(flags + regex)
    except re.error as exc:
        raise DatePatternError(
            f"datepattern {pattern!r} is not a valid regular expression ({exc}): "
            "escape a literal % as %%"
        ) from None
    if compiled.groups < group:
        raise DatePatternError(f"datepattern {pattern!r} has no date group")
    return Template(
        name, pattern, compiled, kind, group, line_begin, line_end, line_begin or line_end
    )


def pattern_template(pattern: str) -> Template:
    """fail2ban's ``DatePatternRegex``: a regex with ``%`` codes."""
    begin: bool | str = True
    end = True
    text = pattern
    if _UNBOUND.search(text):
        text, begin, end = _UNBOUND.sub("", text), False, False
    if begin and _LN_BEG.search(text):
        text, begin = _LN_BEG.sub("", text), "start"
    regex = expand_codes(text)
    if _ALPHA_CODE.search(text):
        regex = "(?iu)" + regex
    return bound(pattern, pattern, regex, Kind.FIELDS, 1, begin, end)


def epoch_template(line_begin: bool = False, pattern: str | None = None, long: bool = False) -> Template:  # fmt: skip
    """fail2ban's ``DateEpoch``: seconds since 1970 at the line start, in ``[...]`` there,
    in ``audit(...:n)``, or where ``{EPOCH}`` stands in ``pattern``."""
    digits = _LONG_EPOCH if long else _EPOCH
    kind = Kind.LONG_EPOCH if long else Kind.EPOCH
    name = pattern or ("LongEpoch" if long else "Epoch")
    if pattern:
        regex = "(" + _EPOCH_TAG.sub(lambda _: f"({digits})", pattern) + ")"
        return bound(name, pattern, regex, kind, 2, True, True)
    if not line_begin:
        regex = (
            rf"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))(?:{digits}))"
            r"(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
        )
        return bound(name, name, regex, kind, 1, False, True)
    regex = rf"((?P<square>(?<=^\[))?(?:{digits}))(?(square)(?=\]))"
    return bound(name, name, regex, kind, 1, "start", True)


def tai64n_template(line_begin: bool) -> Template:
    return bound("TAI64N", "TAI64N", "@[0-9a-f]{24}", Kind.TAI64N, 1, "start" if line_begin else False, True)  # fmt: skip


def unbound_pattern(pattern: str) -> str:
    """A pattern without its boundaries, to stand in for ``{DATE}``."""
    for rx in (_UNBOUND, _LN_BEG, _START_BOUND, _END_BOUND):
        pattern = rx.sub("", pattern)
    return pattern


def keyword_template(pattern: str) -> Template:
    """fail2ban's ``_getPatternTemplate``: EPOCH / LEPOCH / TAI64N keywords or a pattern."""
    key = pattern if "%" in pattern else pattern.upper()
    if "EPOCH" in key:
        if _EPOCH_TAG.search(pattern):
            return epoch_template(pattern=pattern, long="LEPOCH" in key)
        if key in ("EPOCH", "{^LN-BEG}EPOCH", "^EPOCH"):
            return epoch_template(line_begin=key != "EPOCH")
        if key in ("LEPOCH", "{^LN-BEG}LEPOCH", "^LEPOCH"):
            return epoch_template(line_begin=key != "LEPOCH", long=True)
    if key in ("TAI64N", "{^LN-BEG}TAI64N", "^TAI64N"):
        return tai64n_template(line_begin=key != "TAI64N")
    return pattern_template(pattern)


# fail2ban's default templates, in its order (``DateDetectorCache.DEFAULT_TEMPLATES``).
DEFAULT_PATTERNS = (
    # ISO 8601 and simple dates: 2005-01-23T21:59:59.981746+01:00, 2005/01/23 21:59:59
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    # asctime, optional weekday, fraction and year: Sun Jan 23 21:59:59.011 2005
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    # asctime with the year after the day: Sun Jan 23 2005 21:59:59.011
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    # 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    # Apache: [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    # CPanel: 05/20/2008:01:57:39
    r"%m/%d/%ExY:%H:%M:%S",
    # 01-27-2012 16:22:44.252
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    # a time of day alone
    r"{^LN-BEG}%H:%M:%S",
    # <09/16/08@05:03:30>
    r"^<%m/%d/%Exy@%H:%M:%S>",
    # MySQL: 130322 11:46:11
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    # Apache Tomcat: Jan 23, 2005 9:59:59 PM
    r"%b %d, %ExY %I:%M:%S %p",
    # ASSP: Apr-27-13 02:33:06
    r"^%b-%d-%Exy %k:%M:%S",
    # 20050123T215959, 20050123 215959
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    # monit, zone name first: PDT Apr 16 21:05:29
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    # zone offset first: +00:00 Jan 23 21:59:59.011 2005
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
)


@cache
def default_templates() -> tuple[Template, ...]:
    return tuple(keyword_template(p) for p in DEFAULT_PATTERNS)


@cache
def all_default_templates() -> tuple[Template, ...]:
    """What fail2ban runs without a datepattern: a line-start-anchored copy of every
    default template first (fail2ban prefers a date in front), then the defaults."""
    anchored = []
    for t in default_templates():
        if t.name.startswith(("{^LN-BEG}", "^")):
            continue
        copy = keyword_template("{^LN-BEG}" + t.pattern)
        if copy.name != t.name:
            anchored.append(copy)
    return (*anchored, *default_templates())


def templates_for(datepattern: str | None) -> tuple[Template, ...]:
    """The templates of a filter's ``datepattern``, one or more per line, in the order
    fail2ban tries them; fail2ban's defaults when there is no datepattern."""
    if datepattern is None:
        return all_default_templates()
    found: list[Template] = []
    names: set[str] = set()

    def add(template: Template, ignore_duplicate: bool) -> None:
        if template.name in names:
            if ignore_duplicate:
                return
            raise DatePatternError(
                f"datepattern lists {template.pattern!r} twice: remove one of the lines"
            )
        names.add(template.name)
        found.append(template)

    for line in (part.strip() for part in re.split("\n+", datepattern)):
        if not line:
            continue
        key = line if "%" in line else line.upper()
        if key in ("{^LN-BEG}", "{DEFAULT}"):
            again = bool(found)
            for t in all_default_templates():
                if key == "{DEFAULT}" or t.line_begin:
                    add(t, again)
        elif "{DATE}" in key:
            again = bool(found)
            for t in default_templates():
                # fail2ban puts the template's name for the non-pattern ones (Epoch,
                # TAI64N), which then only match that word: kept for the same result
                body = unbound_pattern(t.pattern)
                add(keyword_template(_DATE_TAG.sub(lambda _, b=body: b, line)), again)
        elif key == "{NONE}":
            add(pattern_template("{UNB}^"), False)
        else:
            add(keyword_template(line), False)
    return tuple(found)
