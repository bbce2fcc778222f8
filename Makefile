# Everything a fresh machine needs: `make demo` runs the device, `make test` runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# axe-core for the page tests, from the npm registry at the version and checksum the lock pins.
BROWSER_TOOLS := tests/browser/node_modules/.package-lock.json

.PHONY: demo test lint bench system-deps browser-tools

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/restai-edge demo

system-deps:
	bash scripts/install-system-deps.sh

browser-tools: $(BROWSER_TOOLS)

$(BROWSER_TOOLS): tests/browser/package.json tests/browser/package-lock.json | system-deps
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund

# Two workers, a test file each at a time: most of a test's time is spent waiting on the servers
# it starts, so the suite takes about half as long. The real-install test boots Debian with
# systemd (about two minutes, beside the others).
export RESTAI_EDGE_SYSTEMD_TEST ?= 1

test: $(STAMP) system-deps $(BROWSER_TOOLS)
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check edge sync provisioning tests bench
	$(VENV)/bin/mypy edge sync provisioning

bench: $(STAMP) system-deps
	$(PY) -m bench
