# cunxiang: `make run` serves the app, `make test` runs the whole suite; both set everything up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
RUN_PACKAGES := ffmpeg:ffmpeg espeak-ng:espeak-ng
TEST_PACKAGES := $(RUN_PACKAGES) chromium:chromium fonts-wqy-microhei:__none__ libopencore-amrnb0:__none__ nginx:__none__ postgresql:__none__

.PHONY: run test bench system system-test venv dev migrate lint clean

run: system venv
	$(VENV)/bin/cunxiang migrate
	$(VENV)/bin/cunxiang serve --no-migrate

test: system-test dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: system dev
	$(PY) bench/run_all.py

system:
	@bash scripts/system-packages.sh $(RUN_PACKAGES) $(if $(shell $(PYTHON) -c 'import ensurepip' 2>/dev/null && echo ok),,python3-venv:__none__)

system-test:
	@bash scripts/system-packages.sh $(TEST_PACKAGES) $(if $(shell $(PYTHON) -c 'import ensurepip' 2>/dev/null && echo ok),,python3-venv:__none__)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cunxiang needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(VENV)/.installed $@

venv: $(VENV)/.installed

dev: $(VENV)/.dev-installed

migrate: venv
	$(VENV)/bin/cunxiang migrate

lint: dev
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/mypy app

clean:
	rm -rf $(VENV) var .pytest_cache
