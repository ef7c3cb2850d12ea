# `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test check bench venv clean system-deps mutation

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/shieldwall demo

system-deps:
	@bash scripts/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) system-deps
	@bash scripts/bench-deps.sh
	$(PY) -m benchmarks $(BENCH_ARGS)

# Mutation testing with mutmut over src/shieldwall/{core/signals,core/state,hub/decisions,
# core/targets}.py, one module at a time, one worker, each with its fast tests only
# (tests/core for core modules, tests/hub for the hub's; never tests/e2e).
# MUTATION_MODULES picks a subset, as module:tests pairs. Each module runs on a fresh
# copy of the tree in build/mutation/<module>, so the working tree is never touched;
# results stay there (`cd build/mutation/<module> && ../../../.venv/bin/mutmut results`,
# `... mutmut show NAME`). docs/mutation.md lists the survivors and why each is accepted.
MUTATION_MODULES ?= shieldwall.core.signals:tests/core shieldwall.core.state:tests/core \
                    shieldwall.hub.decisions:tests/hub shieldwall.core.targets:tests/core
MUTATION_DIR     := build/mutation
MUTMUT           := $(abspath $(VENV))/bin/mutmut

mutation: $(STAMP)
	@set -e; for pair in $(MUTATION_MODULES); do \
	  module=$${pair%%:*}; tests=$${pair#*:}; dir=$(MUTATION_DIR)/$$module; \
	  echo "== mutmut: $$module with $$tests"; \
	  rm -rf $$dir && mkdir -p $$dir && cp -r src tests pyproject.toml $$dir/; \
	  sed -i "s|^pytest_add_cli_args_test_selection = .*|pytest_add_cli_args_test_selection = [\"$$tests\"]|" \
	    $$dir/pyproject.toml; \
	  (cd $$dir && $(MUTMUT) run --max-children 1 "$$module.*" > run.log 2>&1 || \
	    { tail -c 3000 run.log; exit 1; }; \
	    $(MUTMUT) results | grep "$$module\." | grep -v "not checked" || true); \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
