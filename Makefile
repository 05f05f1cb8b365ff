# The two README commands. Both create/reuse .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint bench clean-cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,compare,lint,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/factorlab demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check factorlab tests benchmarks datasets

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean-cache:
	rm -rf $${FACTORLAB_CACHE:-$$HOME/.cache/factorlab}
