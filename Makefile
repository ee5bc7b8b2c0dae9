# natv2: the two commands of the README live here, so that README, CI and developers run the same thing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: on Linux without an NVIDIA driver, the CPU build from PyTorch's own CPU wheel index (PyPI's
# Linux wheel is the multi-GB CUDA build). Elsewhere, or when that index cannot be reached, whatever pip
# resolves for TORCH_SPEC, and `make` says so: on macOS PyPI's wheel (CPU and Apple GPU), on a machine
# with an NVIDIA GPU PyPI's CUDA build, on this project's machines the CPU wheel already on the disk.
TORCH_SPEC ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# Reference implementation used only by the equivalence tests (installed without its deps:
# the parts we compare against never touch torchvision).
OFA_SPEC ?= ofa==0.1.0.post202307202001

.PHONY: install install-test system-test-deps test-data quickstart test test-fast docs mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	@if [ "$$(uname -s)" != Linux ] || command -v nvidia-smi >/dev/null 2>&1; then \
	  echo "installing $(TORCH_SPEC) as pip resolves it (not Linux, or an NVIDIA GPU: PyPI's build)"; \
	  $(BIN)/pip install -q "$(TORCH_SPEC)"; \
	elif $(BIN)/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" >/dev/null 2>&1; then \
	  echo "installing $(TORCH_SPEC), CPU build, from $(TORCH_CPU_INDEX)"; \
	  $(BIN)/pip install -q "$(TORCH_SPEC)" --index-url "$(TORCH_CPU_INDEX)" --extra-index-url https://pypi.org/simple; \
	else \
	  echo "note: $(TORCH_CPU_INDEX) cannot be reached; installing $(TORCH_SPEC) as pip resolves it" \
	       "(a local CPU wheel where pip is configured with one, else PyPI's CUDA build on Linux)"; \
	  $(BIN)/pip install -q "$(TORCH_SPEC)"; \
	fi
	$(BIN)/pip install -q -e .

install-test: install system-test-deps
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps "$(OFA_SPEC)"

## Debian packages two tests use: Chromium (the report's headless-rendering check) and
## dataset-fashion-mnist (the real Fashion-MNIST source). Best effort: where apt-get is not usable (no
## root, another OS) those tests say they skipped and why; nothing else needs them.
SYSTEM_TEST_PKGS := chromium dataset-fashion-mnist
system-test-deps:
	@if [ -x /usr/bin/chromium ] && [ -d /usr/share/datasets/fashion-mnist ]; then exit 0; fi; \
	{ command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -q $(SYSTEM_TEST_PKGS) >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(SYSTEM_TEST_PKGS) >/dev/null 2>&1; }; }; } || \
	echo "note: could not install $(SYSTEM_TEST_PKGS); the tests that use them will skip"

# This project's development and CI layout keeps the datasets in ../shared/data; natv2 itself never
# looks there, so it is passed in as $$NATV2_DATA (unless set already). Elsewhere natv2 finds the data
# in $$NATV2_DATA, ./data or its cache, and `make quickstart` downloads CIFAR-10 when it is in none.
ifneq ($(wildcard ../shared/data),)
export NATV2_DATA ?= $(abspath ../shared/data)
endif

## The main job: the one-command pipeline on the default dataset (fetched once, checksummed, if missing).
quickstart: install
	$(BIN)/natv2 run --set data.download=true

## The tests' CIFAR-10: where natv2 finds it ($$NATV2_DATA, ./data, the cache), else downloaded there once,
## checksum-verified, as the quickstart does. Not fetched when $$NATV2_TEST_DATA names the tests' data.
## CIFAR10_URL and CIFAR10_MD5 name a mirror (tools/fresh_clone_check.sh serves one from a local folder).
CIFAR10_URL ?=
CIFAR10_MD5 ?=
test-data: install
	@if [ -n "$$NATV2_TEST_DATA" ]; then echo "test data: $$NATV2_TEST_DATA (NATV2_TEST_DATA)"; else \
	  $(BIN)/natv2 datasets --fetch --set data.name=cifar10 \
	    $(if $(CIFAR10_URL),--set data.download_url=$(CIFAR10_URL)) $(if $(CIFAR10_MD5),--set data.download_md5=$(CIFAR10_MD5)); fi

## The whole test suite: the default tier, then the slow tier.
test: install-test test-data
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -m slow

## The API reference, built offline from the docstrings into build/docs (open build/docs/index.html).
## Strict: a broken reference or a public name without a docstring fails it (tests/test_api_docs.py too).
docs: install
	$(BIN)/pip install -q -e ".[docs]"
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs/api build/docs
	@echo "API reference: build/docs/index.html"

## Default tier only (under 10 minutes on 2 cores).
test-fast: install-test test-data
	$(BIN)/python -m pytest -q

## Mutation testing of the modules the search, training and measuring claims rest on (under an hour on
## 2 cores); kill rates per module: docs/testing.md. MUTATE_ARGS=survival picks modules, -j 1 one core.
MUTATE_ARGS ?=
mutation: install-test
	$(BIN)/python tools/mutate.py -j 2 --min-rate 0.8 $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info
