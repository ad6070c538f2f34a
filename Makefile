# linkrot: `make demo` crawls the bundled demo site and checks its backlinks (`make demo DEMO_ARGS=--serve`
# keeps serving afterwards), `make test` runs the whole test suite.
# Both install what they need on a fresh machine (a virtualenv in .venv; Debian's Chromium and
# redis-server for the tests).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install chromium redis bench clean

demo: install
	$(PY) -m demo $(DEMO_ARGS)

test: install chromium redis
	$(PY) -m pytest -q

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23" 
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# Browsers cannot be downloaded by Playwright here: use Debian's Chromium.
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }
	@# the headless shell renders for half the CPU (linkrot.render); optional, chromium is the fallback
	@command -v chromium-headless-shell >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium-headless-shell || true; }

# tests/test_scale.py starts its own redis-server on loopback (workers sharing a crawl)
redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q redis-server; }

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) data/*.db data/*.db-* .pytest_cache
