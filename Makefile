# Common commands. `make demo` and `make test` do all set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# aws-sam-cli pins its own boto3/pydantic versions, so it lives in a venv of its own
# (tests/test_sam_template.py runs `sam validate --lint` from there).
SAM_VENV  := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
# bubblewrap: the Lambda-like sandbox the ZIP is tested in (tests/test_lambda_zip.py).
APT_PACKAGES := chromium-headless-shell fonts-dejavu-core bubblewrap
# shellcheck: tests/test_scripts.py lints scripts/*.sh with it.
APT_PACKAGES += shellcheck

.PHONY: demo test test-fast lint typecheck fmt bench conformance setup system-deps clean zip bench-lambda

demo: setup
	$(BIN)/hyperframes-lambda render examples/title-card -o out/title-card.mp4
	$(BIN)/hyperframes-lambda render examples/css-nested -o out/css-nested.mp4

test: setup sam-cli
	$(BIN)/pytest

test-fast: setup sam-cli
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks build scripts .ci
	$(BIN)/ruff format --check src tests benchmarks build scripts .ci

fmt: setup
	$(BIN)/ruff format src tests benchmarks build scripts .ci
	$(BIN)/ruff check --fix src tests benchmarks build scripts .ci

typecheck: setup
	$(BIN)/mypy
	$(BIN)/mypy --strict build/build_zip.py build/lambda_sandbox.py build/loopback_relay.py benchmarks/lambda_cold_start.py benchmarks/lambda_model.py

# The Lambda deployment ZIP (SPEC §13): build/dist/hyperframes-lambda.zip, with the size table.
zip: setup
	$(BIN)/python build/build_zip.py

# Cold start and warm per-chunk overhead of the ZIP in the Lambda-like sandbox.
bench-lambda: zip
	$(BIN)/python benchmarks/lambda_cold_start.py --zip build/dist/hyperframes-lambda.zip

bench: setup
	$(BIN)/python benchmarks/capture_bench.py --project examples/title-card
	$(BIN)/python benchmarks/capture_bench.py --project benchmarks/compositions/busy
	$(BIN)/python benchmarks/pipeline_bench.py --project examples/title-card

# Every fixture of ../shared/conformance against the reference engine's outputs: table on
# stdout, JSON and side-by-side PNGs of failures in out/conformance/. CONFORMANCE_ARGS
# passes options through, e.g. CONFORMANCE_ARGS="--only chat,many-cuts --jobs 2".
conformance: setup
	$(BIN)/python benchmarks/conformance.py $(CONFORMANCE_ARGS)

# One-chunk render vs the state machine's flow in worker processes, no AWS (scripts/eval.sh
# --help): the examples plus six short conformance fixtures, 3 iterations, medians.
EVAL_FIXTURES ?= css-boundary,gsap-boundary,waapi-boundary,plan-v2-partial-color,mp4-h264-sdr,page-side-shader-compositor-render-compat
.PHONY: eval-local
eval-local: setup
	HF_PYTHON=$(BIN)/python scripts/eval.sh --local-only --iterations 3 \
	  --fixtures-dir ../shared/conformance/fixtures --fixtures $(EVAL_FIXTURES) $(EVAL_ARGS)

# Try the AWS path without AWS: the stack on 127.0.0.1 (moto's S3, CloudFormation and Step
# Functions running sam/statemachine/render.asl.json; Lambda invocations served by local
# processes of the real handler). Prints the exports for a second shell; Ctrl-C stops it.
# EMULATE_ARGS passes options through, e.g. EMULATE_ARGS="--port 0 --data-dir out/emulator".
.PHONY: emulate
emulate: setup
	$(BIN)/hyperframes-lambda lambda emulate $(EMULATE_ARGS)

# HyperFrames' own CLI and SDK (npm, pinned in build/hyperframes-js-client/package.json) for
# tests/test_hyperframes_client.py: its client against our stack. Needs npm; installs Node 22
# as a package. --ignore-scripts: ffmpeg-static's download is for HyperFrames' handler, not
# its client; --legacy-peer-deps: aws-cdk-lib is a peer for its CDK construct only.
JS_CLIENT ?= $(HOME)/.cache/hyperframes-lambda/hyperframes-js-client
.PHONY: hyperframes-js-client
hyperframes-js-client:
	mkdir -p $(JS_CLIENT)
	cp build/hyperframes-js-client/package.json $(JS_CLIENT)/package.json
	cd $(JS_CLIENT) && npm install --no-audit --no-fund --legacy-peer-deps --ignore-scripts

# The state machine's terminal-error retriers, regenerated from hyperframes_lambda.errors.
.PHONY: asl sam-cli
asl: setup
	$(BIN)/python -m hyperframes_lambda.aws.asl

sam-cli: $(SAM_STAMP)

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q 'aws-sam-cli>=1.100'
	touch $(SAM_STAMP)

setup: system-deps $(STAMP) browser-fonts

# The pinned @sparticuz/chromium build (the Lambda binary, which local renders then use) and
# the pinned font set every browser renders with, into ~/.cache/hyperframes-lambda from the
# npm registry (integrity-checked; no-ops once installed).
.PHONY: browser-fonts
browser-fonts: $(STAMP)
	@$(BIN)/hyperframes-lambda browser install >/dev/null
	@$(BIN)/hyperframes-lambda fonts install >/dev/null

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
	rm -rf $(VENV) $(SAM_VENV) out .pytest_cache .mypy_cache .ruff_cache
