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

# torch (training and its tests only) is pinned to 2.13.0, the CPU build the bundled models were trained and exported
# with (their cards say so); an unpinned `torch` would pull a CUDA build, gigabytes the CPU-only training never uses.
$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/pip install --quiet -e '.[cpu,train,test,faces,live,cluster]'
	# The face detector of the face-survival measure, without its pins (torch<2.3, numpy<2): see pyproject's [faces].
	$(BIN)/pip install --quiet --no-deps 'facenet-pytorch==2.6.0'
	touch $@

## Stylize the bundled sample clip (with its sound) in the default style: writes out/demo.mp4.
demo: $(VENV)/.runtime
	mkdir -p out
	$(BIN)/stylize video $(SAMPLE) out/demo.mp4

## Lint and run the whole test suite.
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/pytest -q -rs

lint: $(VENV)/.dev
	$(BIN)/ruff check .

## Network, pipeline and end-to-end speed (against decoding + encoding alone) at the sizes of the README's speed table.
bench: $(VENV)/.runtime
	$(BIN)/stylize bench --size 640x360 1280x720 1920x1080 --video

clean:
	rm -rf $(VENV) out build dist *.egg-info
