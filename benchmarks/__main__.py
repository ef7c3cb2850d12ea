"""Run every benchmark module (``bench_*.py`` with ``run() -> dict``), print its figures and
write them to ``benchmarks/results/<name>.json`` with the machine they were measured on.

    python -m benchmarks                 # all
    python -m benchmarks hub council     # some
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def compiled() -> None:
    """Byte-compile the package first, as installing it does: the commands timed start
    as an installed ``shieldwall`` starts (``PYTHONDONTWRITEBYTECODE`` would otherwise
    have every run of them compile the sources again)."""
    import compileall

    import shieldwall

    compileall.compile_dir(Path(shieldwall.__file__).parent, quiet=1)


def main(argv: list[str]) -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    wanted = [f"bench_{a.removeprefix('bench_')}" for a in argv]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(
            f"unknown benchmark(s) {unknown}: choose from {[n[6:] for n in names]}", file=sys.stderr
        )
        return 2
    RESULTS.mkdir(exist_ok=True)
    compiled()
    failed = 0
    for name in wanted or names:
        print(f"== {name[6:]}", flush=True)
        started = time.perf_counter()
        try:
            figures = importlib.import_module(f"benchmarks.{name}").run()
        except Exception:
            traceback.print_exc()
            failed += 1
            continue
        elapsed = time.perf_counter() - started
        for key, value in figures.items():
            shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
            print(f"   {key:<48} {shown}")
        record = {
            "benchmark": name[6:],
            "figures": figures,
            "seconds": round(elapsed, 1),
            "machine": machine(),
        }
        (RESULTS / f"{name[6:]}.json").write_text(json.dumps(record, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
