# make run  - system packages, a venv, then migrate, demo data, and serve on http://127.0.0.1:8080
# make test - system packages and services, a venv with the test extra, then the whole suite
#             (scripts/system-packages.sh installs what is missing, or names the command)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint bench clean system-run system-test

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
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hub connectors tests bench
	$(VENV)/bin/ruff format --check hub connectors tests bench
	$(VENV)/bin/mypy hub connectors
	$(PY) scripts/check_connectors.py
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) var build *.egg-info
