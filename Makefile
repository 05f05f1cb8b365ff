# The two README commands. Both create/reuse .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP := $(VENV)/.installed-test-$(HASH)
DEMO_STAMP := $(VENV)/.installed-demo-$(HASH)

.PHONY: demo test lint bench docs clean-cache

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# the demo needs only the core and matplotlib; the tests add their oracles and tools; both then
# compile the evaluation, generator and study kernels into numba's cache (`factorlab warmup`,
# ~20 s once), so a first analysis or the demo does not pay the compile
$(DEMO_STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e ".[plot]"
	$(BIN)/python -m factorlab warmup
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e ".[test,compare,lint,plot,docs,progress,distributed]"
	$(BIN)/python -m factorlab warmup
	touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/factorlab demo

# derandomized hypothesis (tests/conftest.py): a fresh clone draws the same examples as CI
HYPOTHESIS_PROFILE ?= ci
test: $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check factorlab tests benchmarks datasets

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# the API reference from the docstrings (pdoc, the `docs` extra) into docs/api/ (not committed);
# any pdoc warning fails it, as in tests/test_docs_build.py
DOCS_OUT ?= docs/api
docs: $(STAMP)
	$(BIN)/python docs/build_api.py $(DOCS_OUT)

clean-cache:
	rm -rf $${FACTORLAB_CACHE:-$$HOME/.cache/factorlab}
