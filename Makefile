# Common commands. `make demo` and `make test` do all set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := chromium-headless-shell fonts-dejavu-core

.PHONY: demo test test-fast lint typecheck fmt bench conformance setup system-deps clean

demo: setup
	$(BIN)/hyperframes-lambda render examples/title-card -o out/title-card.mp4
	$(BIN)/hyperframes-lambda render examples/css-nested -o out/css-nested.mp4

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

fmt: setup
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/capture_bench.py --project examples/title-card
	$(BIN)/python benchmarks/capture_bench.py --project benchmarks/compositions/busy
	$(BIN)/python benchmarks/pipeline_bench.py --project examples/title-card

# Every fixture of ../shared/conformance against the reference engine's outputs: table on
# stdout, JSON and side-by-side PNGs of failures in out/conformance/. CONFORMANCE_ARGS
# passes options through, e.g. CONFORMANCE_ARGS="--only chat,many-cuts --jobs 2".
conformance: setup
	$(BIN)/python benchmarks/conformance.py $(CONFORMANCE_ARGS)

setup: system-deps $(STAMP)

# apt packages only when missing, so repeated runs stay fast and need no network.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing apt packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
