# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= deploy_weights/vdsr
DEMO_ITERATIONS ?= 24

.PHONY: demo test lint bench setup setup-test setup-zoo-eval clean

$(BIN)/vampy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BIN)/vampy

setup: $(BIN)/vampy

# The detection, text, NLP and salient-object presets' libraries (pyproject.toml's zoo-eval extra, and
# pysodmetrics without its dependency caps).
setup-zoo-eval: setup
	$(BIN)/python -m pip install --quiet -e '.[zoo-eval]'
	$(BIN)/python -m pip install --quiet --no-deps 'pysodmetrics>=1.6'

setup-test: setup
	$(BIN)/python -m pip install --quiet -e '.[test,openvino,ray]'
	$(BIN)/python -m pip install --quiet --no-deps 'pysodmetrics>=1.6'  # see pyproject.toml's note on the test extra

# Builds the embedded VDSR reference model (seeded random weights: speed is real, accuracy is not)
# and profiles it with vamp's own command line.
demo: setup
	$(BIN)/vampy zoo vdsr -o $(DEMO_DIR)
	$(BIN)/vampy run -m $(DEMO_DIR)/mod --vdsp_params vdsp_params/official-vdsr-vdsp_params.json \
		-i 1 p 1 -b 1 -s [3,256,256] --iterations $(DEMO_ITERATIONS)

test: setup-test
	bash scripts/test.sh

# ruff and mypy as configured in pyproject.toml (docs/design.md, "Linters"); CI runs this before `make test`.
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup-test
	$(BIN)/python -m pytest benchmarks -q -p no:cacheprovider --benchmark-only

clean:
	rm -rf $(VENV) deploy_weights work .pytest_cache .benchmarks .mypy_cache .ruff_cache
