# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
# Each creates its virtual environment when it is missing.

PYTHON ?= python3
AIRFLOW3_VERSION ?= 3.3.2
AIRFLOW2_VERSION ?= 2.11.2
VENV := .venv
VENV_AF2 := .venv-airflow2
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: demo test lint types test-airflow3 test-airflow2 bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) "apache-airflow==$(AIRFLOW3_VERSION)" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/python -c "import airflow, airflow_provider_thulium"
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

test: lint types test-airflow3 test-airflow2

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV_AF2) .mypy_cache .ruff_cache .pytest_cache
