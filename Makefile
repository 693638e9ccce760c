# hetq: set-up, main job and tests. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export AMARANTH_USE_YOSYS ?= builtin

.PHONY: install iverilog demo bench test test-all clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,build,sim]'
	touch $(STAMP)

install: $(STAMP)

iverilog:
	@command -v iverilog >/dev/null || { \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=300 update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends iverilog; }

demo: install
	$(BIN)/hetq experiment --quick -o build/experiment

bench: install
	$(BIN)/hetq bench golden

test: install iverilog
	$(BIN)/python -m pytest

test-all: install iverilog
	$(BIN)/python -m pytest -m ""

clean:
	rm -rf build .pytest_cache
