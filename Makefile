# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := tools/samples/tears_of_steel_8s.webm

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[cpu]'
	touch $@

# torch is pinned to the CPU build that this workplace keeps on disk (a plain `torch` would pull a CUDA build).
$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/pip install --quiet -e '.[cpu,train,test,cluster]'
	touch $@

## Stylize the bundled sample clip (with its sound) in the default style: writes out/demo.mp4.
demo: $(VENV)/.runtime
	mkdir -p out
	$(BIN)/stylize video $(SAMPLE) out/demo.mp4

## Lint and run the whole test suite.
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .

## Network and pipeline speed at 640x360 and 1280x720.
bench: $(VENV)/.runtime
	$(BIN)/stylize bench --size 640x360 1280x720

clean:
	rm -rf $(VENV) out build dist *.egg-info
