# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
# Each creates its virtual environment when it is missing.

PYTHON ?= python3
AIRFLOW3_VERSION ?= 3.3.2
AIRFLOW2_VERSION ?= 2.11.2
VENV := .venv
VENV_AF2 := .venv-airflow2
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: demo test lint types test-airflow3 test-airflow2 bench clean
.PHONY: test-floors test-system postgres-server dist test-packaging docs bench-publish test-py312 test-py313 test-openlineage

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev,parquet]" 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/python -c "import airflow, airflow_provider_thulium, pyarrow"  # CSV by pyarrow here, by the csv module on 2.11
	touch $@

$(VENV_AF2)/.installed: pyproject.toml
	test -x $(VENV_AF2)/bin/python || $(PYTHON) -m venv $(VENV_AF2)
	$(VENV_AF2)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW2_VERSION)" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV_AF2)/bin/python -c "import airflow, airflow_provider_thulium"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/python scripts/demo.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(VENV)/.installed
	$(VENV)/bin/mypy

test-airflow3: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-airflow2: $(VENV_AF2)/.installed
	$(VENV_AF2)/bin/python -m pytest -q -p no:cacheprovider

# The lowest versions pyproject.toml allows (read from it by scripts/floors.py), on the lowest
# Python it allows when that interpreter is on the machine, installed together; then the tests.
VENV_FLOORS := .venv-floors
FLOOR_TESTS ?= tests
FLOOR_PYTHON_VERSION = $(shell $(PYTHON) scripts/floors.py python)
FLOOR_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/$(FLOOR_PYTHON_VERSION).*/bin/python$(FLOOR_PYTHON_VERSION) /usr/bin/python$(FLOOR_PYTHON_VERSION) /usr/local/bin/python$(FLOOR_PYTHON_VERSION)) $(PYTHON))

$(VENV_FLOORS)/.installed: pyproject.toml scripts/floors.py
	test -x $(VENV_FLOORS)/bin/python || $(FLOOR_PYTHON) -m venv $(VENV_FLOORS)
	$(VENV_FLOORS)/bin/pip install $(PIP_QUIET) $$($(PYTHON) scripts/floors.py pins) -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(PYTHON) scripts/floors.py check $(VENV_FLOORS)/bin/python
	$(VENV_FLOORS)/bin/python -c "from airflow_provider_thulium.hooks.thulium import ThuliumHook"
	touch $@

test-floors: $(VENV_FLOORS)/.installed
	$(PYTHON) scripts/floors.py check $(VENV_FLOORS)/bin/python
	$(VENV_FLOORS)/bin/python -m pytest -q -p no:cacheprovider $(FLOOR_TESTS)

# The suite on the newer Pythons Airflow declares, with the newest Airflow: each interpreter is found
# as the floors run finds its own; a machine without one says so in one line and goes on.
python_for = $(firstword $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1) /usr/bin/python$(1) /usr/local/bin/python$(1)))

.venv-py312/.installed .venv-py313/.installed: .venv-py3%/.installed: pyproject.toml
	test -x $(@D)/bin/python || $(call python_for,3.$*) -m venv $(@D)
	$(@D)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(@D)/bin/python -c "import airflow, airflow_provider_thulium"
	touch $@

test-py312 test-py313: test-py3%:
	@if [ -z "$(call python_for,3.$*)" ]; then \
	  echo "$@: no Python 3.$* on this machine (~/.pyenv/versions, /usr/bin, /usr/local/bin): skipped"; \
	else \
	  $(MAKE) --no-print-directory .venv-py3$*/.installed && .venv-py3$*/bin/python -m pytest -q -p no:cacheprovider; \
	fi

# The system test (tests/system): PostgreSQL and a multi-process Airflow 3 running every DAG.
$(VENV)/.installed-system: $(VENV)/.installed
	$(VENV)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev,system]" 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/python -c "import psycopg2, asyncpg"
	touch $@

# Debian's PostgreSQL server, installed when missing (the system test starts its own instance).
postgres-server:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql (the system test needs its server binaries)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test-system: $(VENV)/.installed-system postgres-server
	THULIUM_SYSTEM_TEST=1 $(VENV)/bin/python -m pytest -q -p no:cacheprovider -s tests/system

# The documentation site (Sphinx, MyST Markdown pages under docs/), built strictly: a warning, a
# broken reference or an undocumented parameter fails it. Its code examples run in the test suite.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(VENV)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev,docs]" 2>&1 | grep -v "^WARNING: Location" || true
	touch $@

docs: $(VENV)/.installed-docs
	$(VENV)/bin/python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

# The sdist and wheel a package index gets (python -m build), checked as the index would check them.
$(VENV)/.installed-release: $(VENV)/.installed
	$(VENV)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev,release]" 2>&1 | grep -v "^WARNING: Location" || true
	touch $@

dist: $(VENV)/.installed-release
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

# The built distributions: contents, long description, and the wheel installed in a fresh venv.
test-packaging: dist
	THULIUM_DIST_DIR=dist $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/packaging

# The lineage tests (tests/lineage) with the OpenLineage provider installed (the `openlineage` extra),
# on Airflow 3.3 and 2.11, each in its own environment: the other runs prove nothing depends on it.
VENV_OL := .venv-openlineage
VENV_OL_AF2 := .venv-openlineage-airflow2
OL_TESTS ?= tests/lineage tests/integration/test_assets.py

$(VENV_OL)/.installed: OL_AIRFLOW = $(AIRFLOW3_VERSION)
$(VENV_OL_AF2)/.installed: OL_AIRFLOW = $(AIRFLOW2_VERSION)
$(VENV_OL)/.installed $(VENV_OL_AF2)/.installed: %/.installed: pyproject.toml
	test -x $*/bin/python || $(PYTHON) -m venv $*
	$*/bin/pip install $(PIP_QUIET) "apache-airflow==$(OL_AIRFLOW)" -e ".[dev,openlineage]" 2>&1 | grep -v "^WARNING: Location" || true
	$*/bin/python -c "import airflow.providers.openlineage, airflow_provider_thulium"
	touch $@

test-openlineage: $(VENV_OL)/.installed $(VENV_OL_AF2)/.installed
	$(VENV_OL)/bin/python -m pytest -q -p no:cacheprovider $(OL_TESTS)
	$(VENV_OL_AF2)/bin/python -m pytest -q -p no:cacheprovider $(OL_TESTS)

test: lint types docs test-airflow3 test-airflow2 test-py312 test-py313 test-floors test-system test-packaging test-openlineage

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run.py

# The run the documentation's performance page quotes: the last `make bench` report, committed.
bench-publish:
	cp benchmarks/results/latest.json docs/benchmark-results.json

clean:
	rm -rf $(VENV) $(VENV_AF2) $(VENV_FLOORS) $(VENV_OL) $(VENV_OL_AF2) .venv-py312 .venv-py313 dist docs/_build docs/_generated .mypy_cache .ruff_cache .pytest_cache
