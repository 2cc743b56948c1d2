# TabRL: `make up` starts it, `make test` runs the whole suite.
# Both create or refresh .venv from requirements.lock first (Python 3.11 or 3.12).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
# Written after a successful sync; older than the lock or pyproject means stale.
SYNCED := $(VENV)/.tabrl-synced

export MUJOCO_GL ?= egl

.PHONY: venv up test demo bench lock clean-venv

venv: $(SYNCED)

$(SYNCED): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else "TabRL needs Python 3.11 or 3.12: make PYTHON=python3.11")'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --editable .
	@touch $@

# The Serve API (tabrl serve, embedded local Ray) in the background and the Streamlit UI;
# prints the URL to open once both answer. Ctrl-C stops both.
API_PORT ?= 8000
UI_PORT  ?= 8501
up: venv
	$(BIN)/python -m streamlit_ui.up --api-port $(API_PORT) --ui-port $(UI_PORT)

# The headless pipeline on a quick model: three approaches, three videos, a composite.
demo: venv
	$(BIN)/tabrl train --model CartpoleBalance --prompt "Swing the pole wildly but never let it fall" --steps 20000

test: venv
	$(BIN)/python -m pytest

# TabRL against Brax PPO called directly, on this machine: writes BENCHMARKS.md (about 10-15 min on 2 cores).
bench: venv
	$(BIN)/tabrl bench --out BENCHMARKS.md

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --extra cuda --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements-cuda.lock

clean-venv:
	rm -rf $(VENV)
