# Set-up and everyday commands. `make run` starts the dashboard; `make test` runs the test suite.
# Both create the virtual environment (.venv) on first use from the pinned requirements.
# MNIST: $MNIST_PATH, data/mnist.npz or Keras's cache (README: "Set-up"); nothing is downloaded at run time.
#   make run PORT=8502                                        another port
#   make run ARGS="--browser.serverAddress lab.example.org"   more `streamlit run` flags

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
ARGS ?=

.PHONY: run test browser detector-fonts cli-demo clean-venv

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) $(ARGS)

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download).
# Waits for apt's locks when another apt runs, up to APT_LOCK_WAIT_SECONDS (300).
browser:
	@./scripts/install_chromium.sh

# Fonts only bench/fit_outlier_detector.py draws in (refitting the shipped "not a digit" detector); nothing else needs them.
detector-fonts:
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq fonts-urw-base35 fonts-freefont-ttf

# Ray (optional, requirements-ray.txt) for the ray executor's tests; `make run` never installs it.
$(BIN)/.installed-ray: $(BIN)/.installed requirements-ray.txt
	$(BIN)/python -m pip install --quiet -r requirements-ray.txt
	touch $@

test: $(BIN)/.installed $(BIN)/.installed-ray browser
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV) .venv-export-check  # the second: TensorFlow alone, where tests run exported scripts
