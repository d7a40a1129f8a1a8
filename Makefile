# customer-sync: `make demo` runs the main job, `make test` runs the tests, `make down` stops everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PERSONS ?= 2000

.PHONY: install demo test lint unit e2e dbt-test bench down clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/customer-sync demo --persons $(PERSONS)

lint: $(STAMP)
	$(BIN)/ruff check customer_sync pipelines tests
	$(BIN)/ruff format --check customer_sync pipelines tests
	@# the dbt templater compiles models, so it needs the warehouse (the embedded one starts in a second)
	eval "$$($(BIN)/customer-sync db env)" && $(BIN)/sqlfluff lint models snapshots tests/dbt

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/customer-sync bench --persons 100000 --compare splink

down:
	@if [ -x $(BIN)/customer-sync ]; then $(BIN)/customer-sync down; else echo "nothing installed, nothing running"; fi

clean: down
	rm -rf .customer-sync target logs
