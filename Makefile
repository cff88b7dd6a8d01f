# imdesk — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
export IMDESK_DATABASE_URL ?= sqlite:///var/imdesk.db
export IMDESK_DATA_DIR ?= var

.PHONY: run test bench lint clean venv

# the compiled module is rebuilt when its source changes (an editable install builds it in place)
$(STAMP): pyproject.toml setup.py src/imdesk/diag/_fastmine.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/imdesk db upgrade
	$(BIN)/imdesk demo load --if-empty
	$(BIN)/imdesk serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

bench: $(STAMP)
	mkdir -p bench/results
	@set -e; for f in $$(ls bench/*/run_*.py 2>/dev/null | sort); do \
	  echo "== $$f"; $(BIN)/python $$f; done

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache build src/imdesk/diag/_fastmine.c src/imdesk/diag/_fastmine.*.so
