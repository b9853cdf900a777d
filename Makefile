# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

export NO_GCE_CHECK := true

.PHONY: run test lint soak serve bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP) ## Start the service on :8080 on the embedded default (paper broker).
	$(BIN)/python main.py

test: $(STAMP) browser ## Run the whole test suite.
	$(BIN)/python -m pytest -q -rs

lint: $(STAMP) ## ruff (lint and import order) on the code, then hadolint on the Dockerfile.
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

serve: $(STAMP) ## The production server command (the Dockerfile's CMD) on $$PORT, default 8080.
	PORT=$${PORT:-8080} PATH="$(CURDIR)/$(BIN):$$PATH" sh -c "$$($(BIN)/python -m tests.dockerfile_cmd)"

bench: $(STAMP) ## Benchmarks against baselines in one run; writes docs/benchmarks.md.
	$(BIN)/python -m bench

# The console's browser tests drive Debian's Chromium. Installed with apt when we can
# (root, Debian); otherwise those tests are skipped and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && echo "Installing Chromium for the browser tests (apt-get install chromium)..." \
	  && apt-get update -qq >/dev/null 2>&1 \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
	  || echo "Chromium is not installed: the browser tests will be skipped."

soak: $(STAMP) ## The full reliability run (thousands of faulted alerts and hostile inputs); writes docs/reliability.md.
	SOAK=1 $(BIN)/python -m pytest -q tests/reliability

clean:
	rm -rf $(VENV) .pytest_cache var
