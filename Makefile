# Everything a fresh machine needs: `make demo` runs the device, `make test` runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench system-deps

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/restai-edge demo

system-deps:
	bash scripts/install-system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check edge sync provisioning tests bench
	$(VENV)/bin/mypy edge sync provisioning

bench: $(STAMP) system-deps
	$(PY) -m bench
