"""Every benchmark module imports: ``make bench`` is not run by CI, so a name a change
removed from the code would otherwise only be found at the next measurement."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

MODULES = sorted(
    p.stem for p in (Path(__file__).parents[1] / "benchmarks").glob("*.py") if p.stem != "__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_a_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name.startswith("bench_"):
        assert callable(getattr(module, "run", None)), f"benchmarks/{name}.py has no run()"


def test_the_benchmarks_are_found() -> None:
    assert "bench_store" in MODULES and len(MODULES) > 5
