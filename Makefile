# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, build the index of corpus/ if needed, serve http://127.0.0.1:8000
#   make test   install into .venv (with test tools and Chromium), run the whole test suite
# For the fast inner loop while developing: make check

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run serve test check lint browser system-packages index eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pip (not uv or poetry) sees the local CPU wheel of torch==2.13.0.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/minutes serve

serve: run

index: $(STAMP)
	$(BIN)/minutes index

browser:
	@sh scripts/ensure-browser.sh

system-packages:
	@sh scripts/ensure-system-packages.sh

test: $(STAMP) browser system-packages
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

# ruff, mypy and the import-linter layer contracts ([tool.importlinter] in pyproject.toml),
# all on this checkout's code.
lint: $(STAMP)
	$(BIN)/ruff check minutes tests bench
	$(BIN)/mypy minutes tests bench
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports

eval: $(STAMP)
	$(BIN)/minutes eval ../shared/eval/seeds-dev.jsonl

clean:
	rm -rf $(VENV) index .pytest_cache
