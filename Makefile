# make run  - system packages, a venv, then migrate, demo data, and serve on http://127.0.0.1:8080
# make test - system packages and services, a venv with the test extra, then the whole suite
#             (scripts/system-packages.sh installs what is missing, or names the command)
# make test-fast - the suite without the browser and Dovecot tests, for the inner loop
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080
# pytest-xdist workers: one per core (TEST_WORKERS=0 runs in this process, for pdb)
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS)

.PHONY: run test test-fast lint bench clean system-run system-test

$(STAMP): pyproject.toml | system-run
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

system-run:
	@bash scripts/system-packages.sh run

system-test:
	@bash scripts/system-packages.sh test

run: system-run $(STAMP)
	$(VENV)/bin/contacthub migrate
	CONTACTHUB_SERVER__PORT=$(PORT) $(VENV)/bin/contacthub demo
	$(VENV)/bin/contacthub serve --host $(HOST) --port $(PORT)

test: system-test lint
	$(PYTEST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PYTEST) -m "not browser and not dovecot" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hub connectors tests bench
	$(VENV)/bin/ruff format --check hub connectors tests bench
	$(VENV)/bin/mypy hub connectors tests
	$(PY) scripts/check_connectors.py
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) var build *.egg-info
