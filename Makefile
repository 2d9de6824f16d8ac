# The two quick-start commands: `make demo` and `make test`. Both create .venv if needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test check bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned to the CPU build; a bare "torch" requirement may pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo needs only the package with its demo extra (torch, scikit-learn, the UI).
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/digits_sweep.py
	$(BIN)/labledger runs ls --project digits --sort -metrics.f1 --limit 20
	@echo
	@echo "Also: $(BIN)/labledger runs show <RUN>   |   $(BIN)/labledger runs diff <RUN_A> <RUN_B>"
	@echo "      $(BIN)/labledger artifacts show digits-mlp:best   |   $(BIN)/labledger --help"
	@echo
	$(BIN)/labledger ui --project digits

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/check

bench: $(STAMP)
	bash bench/run.sh

clean:
	rm -rf $(VENV) .labledger .pytest_cache .mypy_cache .ruff_cache
