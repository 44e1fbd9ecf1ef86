# Two commands on a fresh machine with Python 3.10+ and access to the package registries:
#   make demo   - set up .venv, then run the main job end to end on a tiny local model
#   make test   - set up .venv, then lint and run the test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stockade-installed
# Pinned first, so pip takes the CPU build on disk and no multi-GB CUDA build is pulled.
TORCH ?= torch==2.13.0

.PHONY: setup test lint demo clean

setup: $(STAMP)

# setup.py and the C source too: an editable install builds the optional extension in place
$(STAMP): pyproject.toml setup.py src/stockade/privacy/detectors/_segment.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e '.[train,serve,dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests

test: lint
	$(PY) -m pytest

demo: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo-console.sh

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .ruff_cache
