"""The strict JSON reader: what it refuses, with messages that say what to send."""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall import strictjson
from shieldwall.strictjson import JsonError


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"{}", 1, id="empty-object"),
        pytest.param(b'"x"', 0, id="scalar"),
        pytest.param(b"[" * 30_000, 30_000, id="unclosed"),
        pytest.param(b'["[[[[", {"a": [1]}]', 3, id="brackets-in-strings"),
        pytest.param(b'["\\"[[[[", 1]', 1, id="escaped-quote"),
        pytest.param(b'["\\\\", [[1]]]', 3, id="escaped-backslash-before-quote"),
        pytest.param(b'{"a": "]]]]]]"}', 1, id="closing-brackets-in-strings"),
    ],
)
def test_depth_counts_only_structure(body: bytes, expected: int) -> None:
    assert strictjson.depth(body) == expected


def test_depth_limit_is_inclusive() -> None:
    assert strictjson.loads(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(JsonError, match="nests more than 32 levels"):
        strictjson.loads(b"[" * 33 + b"]" * 33)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(b"[NaN]", "NaN is not a JSON number", id="nan"),
        pytest.param(b'{"a": -Infinity}', "-Infinity is not a JSON number", id="minus-infinity"),
        pytest.param(b"[1e400]", "1e400 is out of range", id="overflow"),
        pytest.param(b'{"a": 1, "a": 2}', "key 'a' appears twice", id="duplicate-key"),
        pytest.param(b'[{"b": {"a": 1, "a": 1}}]', "key 'a' appears twice", id="nested-duplicate"),
        pytest.param(b'[["\\u0000"]]', "NUL character", id="nul-in-nested-list"),
        pytest.param(b'{"\\ud800": 1}', "lone surrogate", id="surrogate-in-key"),
        pytest.param(b'["\\udc00x"]', "lone surrogate", id="low-surrogate"),
        pytest.param(b"\xc3\x28", "not UTF-8", id="bad-utf8"),
        pytest.param(b"[1,]", "not valid JSON", id="trailing-comma"),
        pytest.param(b"[" + b"9" * 5000 + b"]", "not valid JSON", id="5000-digit-integer"),
    ],
)
def test_refusals_name_the_problem(body: bytes, words: str) -> None:
    with pytest.raises(JsonError, match=words):
        strictjson.loads(body)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        pytest.param(b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}, id="surrogate-pair"),
        pytest.param(b'["\\\\u0000"]', ["\\u0000"], id="escaped-backslash-not-nul"),
        pytest.param(b'{"a": [1.5, -2, true, null]}', {"a": [1.5, -2, True, None]}, id="plain"),
    ],
)
def test_standard_json_is_read_as_json_loads_reads_it(body: bytes, value: Any) -> None:
    assert strictjson.loads(body) == value
