"""Fair burden sharing: a member is judged against the attacks it had to report.

Members m0 and m1 report an attacker (one decision each time); m2 reports nothing.
Every member received the decisions. Once m2's agent reports its exposure, m2 is a
free rider only if it was attacked and reported nothing.
"""

from __future__ import annotations

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import Signal
from tests.core.helpers import council

DAY = 86400.0


def alliance() -> Council:
    """nato, warn policy, no grace; two decisions m2 did not report; all received 10."""
    c = council("nato", burden__policy="warn", burden__grace=0.0)
    for i in range(2):
        target = f"198.51.100.{i + 1}"
        c.step([Signal(m, target, "ssh", 10.0 + i) for m in ("m0", "m1")], 10.0 + i)
    for name in ("m0", "m1", "m2"):
        c.received(name, 10)
    return c


@pytest.mark.parametrize(
    ("exposure", "standing", "share"),
    [
        pytest.param(None, "warned", 0.0, id="no-exposure-reported-falls-back-on-consumption"),
        pytest.param(0, "ok", None, id="never-attacked-is-no-free-rider"),
        pytest.param(2, "warned", 0.0, id="attacked-and-silent-is-a-free-rider"),
    ],
)
def test_free_rider_only_when_it_had_attacks_to_report(
    exposure: int | None, standing: str, share: float | None
) -> None:
    c = alliance()
    if exposure is not None:
        c.exposed("m2", exposure)
    c.tick(DAY)
    assert c.standing("m2", DAY) == standing
    entry = {e.member: e for e in c.ledger(DAY)}["m2"]
    assert (entry.share, entry.exposure, entry.consumption) == (share, exposure, 10)


def test_reporting_member_is_measured_against_its_exposure() -> None:
    """m0 helped cause both decisions it was exposed to: share 1.0, standing ok."""
    c = alliance()
    c.exposed("m0", 2)
    c.tick(DAY)
    entry = {e.member: e for e in c.ledger(DAY)}["m0"]
    assert (entry.contribution, entry.exposure, entry.share, entry.standing) == (2, 2, 1.0, "ok")


def test_exposure_reported_later_clears_the_warning() -> None:
    c = alliance()
    c.tick(DAY)
    assert c.standing("m2", DAY) == "warned"
    c.exposed("m2", 0)
    o = c.tick(2 * DAY)
    assert c.standing("m2", 2 * DAY) == "ok"
    assert "member m2 contributes enough again: standing ok" in o.notices


@pytest.mark.parametrize(
    ("member", "count", "message"),
    [
        pytest.param("ghost", 1, "unknown member 'ghost': it must apply first", id="unknown"),
        pytest.param("m0", -1, "count -1 must be a whole number of attacks", id="negative"),
        pytest.param("m0", True, "count True must be a whole number of attacks", id="boolean"),
    ],
)
def test_exposed_validates(member: str, count: int, message: str) -> None:
    with pytest.raises(ValueError) as err:
        council("nato").exposed(member, count)
    assert message in str(err.value)
