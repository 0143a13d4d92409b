# Two commands set everything up on a fresh clone: `make chat` and `make test`.
# The virtual environment lives in .venv/ and is rebuilt when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The `model` extra's torch, installed on its own first: the build machines keep the CPU wheel of this
# version on disk, and pip takes it instead of the CUDA wheel of several GB. A GPU user installs the CUDA
# build of the same version first (see README); pip then keeps it.
TORCH := torch==2.13.0

# mypy and import-linter find packages by folder, not through the editable install's import hook, so
# build/tree/botkit lays out the installed namespace with links: botkit/*, adapters/ as botkit/adapters,
# training/ as botkit/training (see setup.py). Rebuilt on every check, so new files are always seen.
TREE := build/tree

.PHONY: chat test lint typecheck unit bench clean tree

# .[all,dev]: every extra (the model stack, the three platforms, the queue, training) and the dev tools.
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

chat: $(STAMP)
	$(BIN)/botkit chat

tree:
	rm -rf $(TREE) && mkdir -p $(TREE)/botkit
	for entry in botkit/*; do ln -s ../../../$$entry $(TREE)/botkit/; done
	ln -s ../../../adapters $(TREE)/botkit/adapters
	ln -s ../../../training $(TREE)/botkit/training
	ln -s ../../../console $(TREE)/botkit/console

lint: $(STAMP) tree
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint deploy/Dockerfile
	cd $(TREE) && ../../$(BIN)/lint-imports ../../pyproject.toml

typecheck: $(STAMP) tree
	$(BIN)/mypy $(TREE)/botkit

# Two workers: CI has two cores and most tests wait on subprocesses, servers and sockets, not the CPU.
# loadgroup sends the tests marked @pytest.mark.xdist_group("name") to one worker, one after another (the
# timing-sensitive ones, see their comments); the rest go to whichever worker is free. Plain `pytest` runs
# in one process as before. `make unit WORKERS=4` on a bigger machine; WORKERS=0 runs in one process.
WORKERS ?= 2

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

test: lint typecheck unit

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
