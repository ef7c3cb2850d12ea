"""Checkpoints of the council: canonical bytes, a restore that behaves as the original."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from shieldwall.core import checkpoint
from shieldwall.core.checkpoint import CheckpointError, capture, restore
from shieldwall.core.council import Council
from shieldwall.core.model import Outcome, Signal
from shieldwall.core.treaty import load_treaty, template_text

Call = Callable[[Council], Outcome]


def founded(template: str = "nato") -> Council:
    c = Council(load_treaty(template_text(template), template))
    for i in range(6):
        c.apply(f"m{i}", [f"10.0.{i}.1"], 0.0, permanent=template == "un" and i < 2)
        if c.treaty.accession == "admin" or i == 0:
            c.approve(f"m{i}", 0.0)
        else:
            for j in range(i):
                c.vote(f"m{i}", f"m{j}", True, 0.0)
    return c


def scenario(seed: int, n: int, template: str = "nato") -> list[Call]:
    """``n`` council calls: reports, ranges, revocations, vetoes, evidence, an amendment."""
    rnd = random.Random(seed)
    calls: list[Call] = []
    now = 10.0
    amended = False
    for k in range(n):
        now += rnd.choice((0.5, 3.0, 40.0, 400.0))
        t = now
        roll = rnd.random()
        if roll < 0.7:
            batch = [
                Signal(
                    f"m{rnd.randrange(6)}",
                    rnd.choice(
                        (f"198.51.100.{rnd.randrange(40)}", f"203.0.113.0/{rnd.choice((24, 28))}")
                    ),
                    rnd.choice(("ssh", "http")),
                    t,
                    rnd.randrange(1, 30),
                )
                for _ in range(rnd.randrange(1, 6))
            ]
            calls.append(lambda c, b=batch, t=t: c.step(b, t))
        elif roll < 0.78:
            did = rnd.randrange(1, 20)

            def revoke(
                c: Council, did: int = did, t: float = t, appeal: bool = k % 2 == 0
            ) -> Outcome:
                if c.decision(did) is None:
                    return c.tick(t)
                return c.revoke(did, t, "secretariat", "test", appeal=appeal)

            calls.append(revoke)
        elif roll < 0.84:
            target = f"198.51.100.{rnd.randrange(40)}"
            member = f"m{rnd.randrange(6)}"

            def evidence(c: Council, m: str = member, x: str = target, t: float = t) -> Outcome:
                c.benign(m, x, 5, t)
                c.exposed(m, 2)
                c.received(m, 1)
                return Outcome()

            calls.append(evidence)
        elif roll < 0.88:
            calls.append(lambda c, t=t, m=f"m{rnd.randrange(6)}": c.invoke(m, t))
        elif roll < 0.9 and not amended:
            amended = True
            text = template_text(template).replace("version = 1", "version = 2", 1)
            text = text.replace('window = "15m"', 'window = "20m"', 1)
            calls.append(lambda c, t=t, x=text: c.amend(load_treaty(x, "amendment"), t))
        else:
            calls.append(lambda c, t=t: c.tick(t))
    return calls


def run(c: Council, calls: list[Call]) -> list[Outcome]:
    return [call(c) for call in calls]


@pytest.mark.parametrize("template", ["nato", "un", "anzus"])
def test_restored_council_continues_exactly_as_the_original(template: str) -> None:
    calls = scenario(7, 600, template)
    original = founded(template)
    run(original, calls[:300])
    cp = capture(original, 300)
    copy = restore(cp.body, cp.digest, 300)
    assert capture(copy, 300).body == cp.body
    assert run(copy, calls[300:]) == run(original, calls[300:])
    assert capture(copy, 600).body == capture(original, 600).body
    assert original.active(1e9) == copy.active(1e9)
    assert [m for m in original.members()] == [m for m in copy.members()]


def test_same_inputs_give_the_same_bytes() -> None:
    calls = scenario(3, 400)
    a, b = founded(), founded()
    run(a, calls)
    run(b, calls)
    ca, cb = capture(a, 400), capture(b, 400)
    assert ca.body == cb.body and ca.digest == cb.digest
    assert ca.treaty_label == "nato@2"  # the amendment is in force
    assert json.loads(ca.body)["format"] == checkpoint.FORMAT


def test_other_inputs_give_other_bytes() -> None:
    a, b = founded(), founded()
    run(a, scenario(3, 100))
    run(b, scenario(4, 100))
    assert capture(a, 100).digest != capture(b, 100).digest


_DIGEST = """
import sys
sys.path.insert(0, {tests!r})
from tests.core.test_checkpoint import founded, run, scenario
from shieldwall.core.checkpoint import capture
c = founded()
run(c, scenario(5, 300))
print(capture(c, 300).digest)
"""


def test_bytes_do_not_depend_on_the_hash_seed() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST.format(tests=root)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def _damaged(body: bytes) -> bytes:
    doc = json.loads(body)
    doc["state"] = ["O", "Popen", ["args", "x"]]
    return json.dumps(doc).encode()


def _format(body: bytes) -> bytes:
    doc = json.loads(body)
    doc["format"] = checkpoint.FORMAT + 1
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("change", "same_digest", "message"),
    [
        pytest.param(lambda b: b[:-1] + b"]", False, "do not match its digest", id="bit-rot"),
        pytest.param(lambda b: b[: len(b) // 2], True, "not valid JSON", id="truncated"),
        pytest.param(_format, True, "has format", id="other-format"),
        pytest.param(_damaged, True, "unknown class 'Popen'", id="unknown-class"),
        pytest.param(lambda b: b"[1, 2]", True, "has format None", id="not-a-document"),
    ],
)
def test_a_checkpoint_that_does_not_restore_says_why(
    change: Callable[[bytes], bytes], same_digest: bool, message: str
) -> None:
    c = founded()
    run(c, scenario(1, 50))
    cp = capture(c, 50)
    body = change(cp.body)
    digest = checkpoint.digest_of(body) if same_digest else cp.digest
    with pytest.raises(CheckpointError, match=message):
        restore(body, digest, 50)


def test_a_checkpoint_of_another_seq_is_refused() -> None:
    c = founded()
    cp = capture(c, 5)
    with pytest.raises(CheckpointError, match="says it is at input 5"):
        restore(cp.body, cp.digest, 6)


@pytest.mark.parametrize("seq", [-1, True, 1.5])
def test_capture_refuses_a_bad_seq(seq: Any) -> None:
    with pytest.raises(ValueError, match="must be a whole number"):
        capture(founded(), seq)


def test_repr_holds_no_state() -> None:
    cp = capture(founded(), 0)
    assert "m0" not in repr(cp) and cp.digest[:12] in repr(cp)
