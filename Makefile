# Noisebloom: one entry point for setting up, running, testing and packaging.
#   make run          create/reuse .venv, install, open the app
#   make test         create/reuse .venv, install, lint, check the layering, run the tests
#   make screenshots  save a PNG of each area of the app (offscreen) into screenshots/
#   make package      build the standalone app: dist/noisebloom/ and dist/noisebloom-*-linux-*.tar.gz
#   make package-smoke  build it if needed, run the frozen app's selftest, time its start-up
#
# torch: this installs the CPU build pinned below first, because a bare `torch` requirement with
# no torch installed pulls a CUDA build of several GB. For an NVIDIA GPU, see README.md
# ("With an NVIDIA GPU"): override TORCH_SPEC / TORCH_PIP_ARGS.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.noisebloom-installed

export HF_HUB_OFFLINE := 1

.PHONY: install run test lint screenshots package package-smoke clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/noisebloom

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/noisebloom screenshot screenshots

# The standalone app (packaging/README.md). Not part of `make test`: PyInstaller over torch takes
# many minutes and the bundle is about 1 GB.
PACKAGE_STAMP := $(VENV)/.noisebloom-package-installed

$(PACKAGE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,package]'
	@touch $(PACKAGE_STAMP)

package: $(PACKAGE_STAMP)
	$(PY) packaging/build.py

package-smoke: $(PACKAGE_STAMP)
	@test -x dist/noisebloom/noisebloom || $(MAKE) package
	$(PY) packaging/smoke.py

clean-venv:
	rm -rf $(VENV)
