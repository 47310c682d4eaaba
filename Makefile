# Set-up and everyday commands. `make run` starts the dashboard; `make test` runs the test suite.
# Both create the virtual environment (.venv) on first use from the pinned requirements.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test browser cli-demo clean-venv

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT)

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

# Ray (optional, requirements-ray.txt) for the ray executor's tests; `make run` never installs it.
$(BIN)/.installed-ray: $(BIN)/.installed requirements-ray.txt
	$(BIN)/python -m pip install --quiet -r requirements-ray.txt
	touch $@

test: $(BIN)/.installed $(BIN)/.installed-ray browser
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
