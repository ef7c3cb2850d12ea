"""The bus's wire form: what a primary writes a replica reads back, and nothing else."""

from __future__ import annotations

import json
import zlib

import pytest

from shieldwall.bus.base import check_bus_url, check_stream
from shieldwall.bus.records import (
    MAX_RECORD_BYTES,
    Charter,
    InputRecord,
    decode_charter,
    decode_input,
    encode_charter,
    encode_input,
)
from shieldwall.core.model import Signal

SIGNALS = tuple(
    Signal(f"m{i % 7}", f"203.0.113.{i % 250}", "ssh", 1_800_000_000.0 + i, 6)
    for i in range(10_000)
)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            InputRecord(
                1,
                0,
                1.5,
                "apply",
                {"name": "a", "addresses": ["192.0.2.1"]},
                member=("KEY=", False),
            ),
            id="accession",
        ),
        pytest.param(
            InputRecord(7, 3, 2.0, "signals", {"member": "m1", "seq": 9}, SIGNALS), id="signals"
        ),
        pytest.param(InputRecord(8, 7, 3.0, "tick", {}), id="tick"),
        pytest.param(
            InputRecord(9, 8, 3.0, "policy", {"member": "m1", "policy": {"max_ban": 60}}),
            id="policy",
        ),
    ],
)
def test_round_trip(record: InputRecord) -> None:
    assert decode_input(encode_input(record)) == record


def test_a_full_batch_fits_a_default_nats_message() -> None:
    data = encode_input(InputRecord(7, 3, 2.0, "signals", {"member": "m1", "seq": 9}, SIGNALS))
    assert len(data) < 1024 * 1024, "10,000 signals (the batch limit) under NATS's 1 MB default"


def test_charter_round_trip_and_repr_hides_the_digest() -> None:
    charter = Charter("name = 'x'", "f" * 64, "abc")
    assert decode_charter(encode_charter(charter)) == charter
    assert "f" * 64 not in repr(charter)


def test_a_zlib_bomb_is_refused() -> None:
    bomb = zlib.compress(b'{"v":1,"pad":"' + b"a" * (MAX_RECORD_BYTES + 10) + b'"}', 9)
    with pytest.raises(ValueError, match="larger than"):
        decode_input(bomb)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"v": 1}, "the treaty text is missing", id="no-treaty"),
        pytest.param(
            {"v": 1, "treaty": "t", "admin_digest": 5, "treaty_digest": "d"},
            "must be text",
            id="bad-digest",
        ),
        pytest.param({"v": 2, "treaty": "t"}, "format 2, not 1", id="format"),
    ],
)
def test_bad_charters(value: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_charter(zlib.compress(json.dumps(value).encode()))


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        pytest.param("nats://127.0.0.1:4222", True, id="nats"),
        pytest.param("tls://nats.example:4222", True, id="tls"),
        pytest.param("nats://a:4222, nats://b:4222", True, id="cluster"),
        pytest.param("http://127.0.0.1:4222", False, id="http"),
        pytest.param("nats://", False, id="no-host"),
        pytest.param("127.0.0.1:4222", False, id="no-scheme"),
    ],
)
def test_bus_urls(url: str, ok: bool) -> None:
    if ok:
        assert check_bus_url(url, "--bus")
    else:
        with pytest.raises(ValueError, match="is not a NATS URL: give nats://HOST:4222"):
            check_bus_url(url, "--bus")


def test_a_bad_bus_url_never_shows_its_password() -> None:
    with pytest.raises(ValueError) as info:
        check_bus_url("http://user:s3cret@host:4222", "--bus")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("name", ["a.b", "", "x" * 33, "sp ace", "star*"])
def test_bad_stream_names(name: str) -> None:
    with pytest.raises(ValueError, match="use 1 to 32 letters, digits, - or _"):
        check_stream(name, "--bus-stream")
