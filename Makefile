# Two entry points on a fresh clone: `make run` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
# The kernels compiled once in the terminal, with progress, before the first window; again
# after the engine changes (the window still warms a stale cache itself).
WARMSTAMP := $(VENV)/.warmed-up

.PHONY: run test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TESTSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

$(WARMSTAMP): $(STAMP) $(shell find engine -name '*.py')
	$(PY) -m app warm-up
	touch $@

run: $(STAMP) $(WARMSTAMP)
	$(PY) -m app

test: $(TESTSTAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
