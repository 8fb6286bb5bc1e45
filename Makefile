# Coregulate: the two quick-start commands are `make demo` and `make test`; each sets up
# everything it needs first (system packages when run as root, a virtualenv, the dashboard's
# npm packages). Nothing downloads at run time.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# pip through the venv's python: a venv copied from another checkout keeps that one's pip shebang
PIP    := $(PY) -m pip
# Debian packages: PortAudio for microphones, Chromium for the browser tests, Node/npm for the
# dashboard's pinned packages (skipped when a node and npm are already on the PATH).
APT_PACKAGES := libportaudio2 chromium $(if $(shell command -v npm),,nodejs npm)

# The suite runs on every core (pytest-xdist); tests that share a resource (LSL streams on loopback,
# xdist_group marks) stay in one process, a module's tests together (tests/parallel_scheduling.py).
# `make test PYTEST_WORKERS=0` or `make test-serial` runs it in one process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: setup system-deps python-deps dashboard-deps demo test test-serial test-under-load test-fast bench lint lint-docker clean

setup: system-deps python-deps dashboard-deps

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "please install these Debian packages (as root):$$missing"; exit 1; \
	  fi; \
	fi

# Exactly the tested versions, checked against their hashes (requirements.lock, made with
# pip-compile from pyproject.toml), then the project itself without resolving anything again.
# pip byte-compiles each package's files on one core, nearly half of the install's CPU time:
# compileall does the same on every core (-j 0) once all are unpacked.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --no-compile --require-hashes -r requirements.lock
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

python-deps: $(VENV)/.installed

dashboard/static/vendor/uplot/uPlot.esm.js: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund --loglevel=error
	touch $@

dashboard-deps: dashboard/static/vendor/uplot/uPlot.esm.js

demo: setup
	$(VENV)/bin/coregulate demo

test: setup
	$(PY) -m pytest $(PYTEST_PARALLEL)

test-serial: setup
	$(PY) -m pytest -p no:xdist

# Style and layering: ruff (pyflakes, pycodestyle, numpy docstrings; pyproject.toml) and the
# import directions sensors -> models -> server (.ci/check_imports.py).
lint: python-deps
	$(VENV)/bin/ruff check .
	$(PY) .ci/check_imports.py

# The suite on a busy machine: one core spinning (bench/under_load.py) while the tests run.
test-under-load: setup
	$(PY) bench/under_load.py --cores 1 -- $(PY) -m pytest $(PYTEST_PARALLEL)

test-fast: setup
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not browser and not realdata"

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) dashboard/node_modules dashboard/static/vendor .pytest_cache test-output
