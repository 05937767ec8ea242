# Two commands do all set-up on a fresh machine:
#   make demo   - create .venv, install edgequant (+ plots), run the main job on the built-in model and data
#   make test   - create .venv, install everything the tests need (LiteRT, tflite-micro, TensorFlow, ...), run them
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# editable_mode=compat: a path entry, not an import hook, so a folder named edgequant in the current directory
# (this clone, seen from its parent) cannot shadow the package
EDITABLE = --config-settings editable_mode=compat

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(EDITABLE) -e '.[plot]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(EDITABLE) -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

.PHONY: demo test lint bench clean
# One BLAS thread unless told otherwise: the demo's matrices are small, and on a busy 2-core machine OpenBLAS's
# second thread waits for a core (measured: 9.6 s instead of 2.8 s under load, the same 1.4 s when idle).
demo: $(VENV)/.demo-installed
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(BIN)/edgequant demo

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check edgequant tests

clean:
	rm -rf $(VENV) edgequant-out .pytest_cache
