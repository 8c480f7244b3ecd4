# The two commands of the README. Both bootstrap .venv on a fresh machine.
#   make demo   install nfb and run a short session on BrainFlow's synthetic board
#   make test   install nfb with its test extras and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SESSIONS ?= sessions

# a real but short session (about a minute): baselines of 12 s (a baseline needs 5 s of
# usable frames), two blocks of 15 s and a rest of 3 s
DEMO_SCRIPT = --set script.baseline_eyes_open=0.2 --set script.baseline_eyes_closed=0.2 \
              --set script.blocks=2 --set script.block_min=0.25 --set script.rest_min=0.05

.PHONY: demo test test-gui-stress lint clean system-deps check-wheels wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

# with a display: the desktop app, connected to the synthetic board (press Start, F5);
# without one: the same protocol headless, printing the session folder at the end
demo: $(VENV)/.installed
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/nfb gui --device synthetic --protocol alpha-beta-up --client demo --connect \
			--sessions-dir $(SESSIONS); \
	else \
		echo "make demo: no display, so the session runs headless (nfb run)"; \
		$(BIN)/nfb run --device synthetic --protocol alpha-beta-up --client demo \
			--sessions-dir $(SESSIONS) $(DEMO_SCRIPT); \
	fi

# the wheel a practitioner installs (pipx install dist/nfb-*.whl). build/ goes first: setuptools
# packs what it left there, so a module deleted since an earlier build would ship again
wheel:
	rm -rf build dist/nfb-*.whl
	$(PYTHON) -m pip wheel --quiet --no-deps . -w dist

# xvfb, pulseaudio and the libraries Qt needs (apt-get as root; skipped otherwise)
system-deps:
	@tools/system-deps.sh

# every dependency has a binary wheel for Windows and macOS (arm64 14+, x86-64 10.15+);
# needs PyPI, says SKIPPED where it is unreachable (NFB_REQUIRE_WHEEL_CHECK=1: fail instead)
check-wheels: $(VENV)/.installed-test
	BIN=$(BIN) tools/check-platform-wheels.sh

# one pytest worker per core (at most 4: the GUI and device tests each hold a Qt app, a pty
# emulator or an LSL outlet, and gain nothing from more); JOBS=0 runs in one process
JOBS ?= auto
test: $(VENV)/.installed-test system-deps check-wheels
	$(BIN)/ruff check nfb tests
	$(BIN)/python -m pytest $(if $(filter 0,$(JOBS)),,-n $(JOBS) --maxprocesses 4)

# the GUI tests 20 times in shuffled orders, with window open/close cycles; prints how many
# runs crashed (about 30 min on 2 cores; not part of `make test`)
test-gui-stress: $(VENV)/.installed-test system-deps
	$(BIN)/python tools/gui_stress.py --runs $(or $(RUNS),20)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check nfb tests
	$(BIN)/ruff format --check nfb tests

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis stress-logs
