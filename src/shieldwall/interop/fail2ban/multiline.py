"""fail2ban's line buffer for multi-line filters (``maxlines`` > 1).

Each line (its date removed) joins the buffer, which keeps the last ``maxlines``; the
failregexes run over the buffer joined by newlines. A match removes the lines it
covered, except those a ``<SKIPLINES>`` passed over: they stay for later matches, as
do the lines before and after the match. As in fail2ban, which lines a match covered is
counted in the text searched and applied to the buffer as it was when the line came.
"""

from __future__ import annotations

import re


class LineBuffer:
    def __init__(self, size: int) -> None:
        self.size = size
        self.lines: list[str] = []
        self.original: list[str] = []  # the buffer when the current line arrived

    def add(self, line: str) -> str:
        """Take in one line; the text the regexes search."""
        self.lines.append(line)
        if len(self.lines) > self.size:
            del self.lines[: len(self.lines) - self.size]
        self.original = list(self.lines)
        return self.text()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def replace_with(self, content: str) -> None:
        """A prefregex's ``<F-CONTENT>`` stands for the whole buffer (fail2ban's way)."""
        self.lines = [content]

    def keep(self, lines: list[str]) -> None:
        self.lines = lines

    def split(self, m: re.Match[str]) -> tuple[str, list[str]]:
        """(text of the lines ``m`` covered, the lines that stay in the buffer)."""
        org = self.original
        if len(org) <= 1:
            return "\n".join(org) + "\n", []
        s = m.string
        first = s.rfind("\n", 0, m.start() + 1) + 1
        end = s.find("\n", max(m.end() - 1, 0))
        last = end + 1 if end >= 0 else len(s)
        before, upto = s.count("\n", 0, first), s.count("\n", 0, last)
        matched = org[before:upto]
        rest = org[:before]
        n = 0
        for skipped in _skipped_lines(m):
            for i, line in enumerate(matched[n:]):
                if line == skipped:
                    rest.append(matched.pop(n + i))
                    n += i
                    break
        rest.extend(org[upto:])
        return "\n".join(matched) + "\n", rest


def _skipped_lines(m: re.Match[str]) -> list[str]:
    text = ""
    n = 0
    groups = m.re.groupindex
    while f"skiplines{n}" in groups:
        text += m.group(f"skiplines{n}") or ""
        n += 1
    return text.splitlines()
