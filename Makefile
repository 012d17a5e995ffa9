# CNN Lens — `make run` starts the app, `make test` runs the whole test suite (each sets itself up first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: setup run test lint bench browser-deps proxy-deps lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/cnn-lens run --server.port $(PORT)

# Debian's Chromium (+ an emoji font) for the real-browser tests; skipped when not root or no apt.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji; \
	fi

# Debian's nginx for tests/test_cluster.py (2 replicas behind the deploy/ proxy template); root + apt only.
proxy-deps:
	@if [ ! -x /usr/sbin/nginx ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; \
	fi

test: setup browser-deps proxy-deps
	$(BIN)/ruff check app vizcore models tests bench deploy
	$(BIN)/python -m pytest -q

bench: setup
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Re-pin constraints.txt (the lock file make and the Dockerfile install with) from the current venv.
lock: setup
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
