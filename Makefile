# make run  - a venv, then migrate, demo data, and serve on http://127.0.0.1:8080
# make test - a venv with the test extra, then the whole suite
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/contacthub migrate
	CONTACTHUB_SERVER__PORT=$(PORT) $(VENV)/bin/contacthub demo
	$(VENV)/bin/contacthub serve --host $(HOST) --port $(PORT)

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hub connectors tests bench
	$(VENV)/bin/ruff format --check hub connectors tests bench
	$(VENV)/bin/mypy hub connectors

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) var build *.egg-info
