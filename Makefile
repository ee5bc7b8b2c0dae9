# natv2: the two commands of the README live here, so that README, CI and developers run the same thing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch lies on this kind of machine's disk; asking for it first keeps pip
# from resolving a multi-GB CUDA build. Elsewhere pip fetches that version from PyPI.
TORCH_SPEC ?= torch==2.13.0
# Reference implementation used only by the equivalence tests (installed without its deps:
# the parts we compare against never touch torchvision).
OFA_SPEC ?= ofa==0.1.0.post202307202001

.PHONY: install install-test browser quickstart test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e .

install-test: install browser
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps "$(OFA_SPEC)"

## Debian's Chromium, for the report's headless-rendering test. Best effort: where apt-get is not
## usable (no root, another OS) the test says it skipped and why; nothing else needs it.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	    { apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium could not be installed; the report's headless-rendering test will skip"

## The main job: the one-command pipeline on the default dataset.
quickstart: install
	$(BIN)/natv2 run

## The whole test suite: the default tier, then the slow tier.
test: install-test
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -m slow

## Default tier only (under 10 minutes on 2 cores).
test-fast: install-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build dist src/*.egg-info
