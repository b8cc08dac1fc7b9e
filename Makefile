# Set-up and checks that work on a fresh machine. Every target creates .venv if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_BASE := $(VENV)/.installed-base
DEMO_OUT ?= demo-output

.PHONY: demo test test-zspy lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[all]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,all]'
	touch $@ $(STAMP_BASE)

demo: $(STAMP_BASE)
	$(VENV)/bin/scanstack demo --output $(DEMO_OUT) --overwrite

test: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m pytest -q
	$(MAKE) test-zspy

# RosettaSciIO 0.15 writes .zspy only with zarr 2, while scanstack's zarr format needs zarr 3:
# HyperSpy's zspy round trip is tested in a second venv that has zarr 2 (about 1 min).
ZSPY_VENV ?= .venv-zarr2
$(ZSPY_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(ZSPY_VENV)
	$(ZSPY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ZSPY_VENV)/bin/python -m pip install --quiet -e '.[hyperspy]' 'zarr>=2.16,<3' 'pytest>=7'
	touch $@

test-zspy: $(ZSPY_VENV)/.installed
	$(ZSPY_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/integrations/test_hyperspy.py

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP_TEST)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP_TEST)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(ZSPY_VENV) $(DEMO_OUT) build src/*.egg-info
