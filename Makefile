# `make demo` and `make test` set up their own environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-quick lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m tame_xr.demo --data data --output demo-output

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile tests

bench: $(STAMP)
	$(PY) bench/run_all.py

bench-quick: $(STAMP)
	$(PY) bench/run_all.py --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check tame_xr tests bench
	$(VENV)/bin/ruff format --check tame_xr tests bench

clean:
	rm -rf $(VENV) data demo-output
