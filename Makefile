# CNN Lens — `make run` starts the app, `make test` runs the whole test suite (each sets itself up first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: setup run test lint bench browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/cnn-lens run --server.port $(PORT)

# Debian's Chromium (+ an emoji font) for the real-browser tests; skipped when not root or no apt.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji; \
	fi

test: setup browser-deps
	$(BIN)/ruff check app vizcore models tests bench
	$(BIN)/python -m pytest -q

bench: setup
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
