# Two entry points for a fresh machine: `make run` (the site on embedded defaults) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench bench-load messages lock

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The exact versions of requirements-dev.lock (checked against their hashes), then the checkout itself, editable,
# with every extra: --no-index makes this step fail, rather than fetch something unpinned, when pyproject.toml asks
# for what the lock lacks (run `make lock`). Redone only when the lock or the packaging changed.
$(VENV)/.installed: requirements-dev.lock pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-index --no-build-isolation -e '.[test]'
	touch $@

CATALOGUES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations -l $*

install: $(VENV)/.installed $(CATALOGUES)

# The site on one machine: development keys, a sample certificate, SQLite for the log and the rate limits.
run: export CERTVERIFY_ENV = development

run: install
	$(BIN)/python -m verify keys init
	$(BIN)/python -m verify issue --out instance/sample
	$(BIN)/flask --app app db upgrade
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) 'app:create_app()'

# The lint checks first (seconds), then the suite: CI (.ci/run) runs only `make test`, so this is where ruff and mypy
# run there too, and a lint or type error fails fast instead of after the long suite.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Refresh the catalogues after changing UI strings: extract, merge into translations/*/messages.po, compile.
messages: $(BIN)/python
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o translations/messages.pot .
	$(BIN)/pybabel update --width 120 -i translations/messages.pot -d translations
	$(BIN)/pybabel compile --statistics -d translations

# Style and imports (ruff), then the static types of verify/ and web/ (mypy; its settings are in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/fidelity.py
	$(BIN)/python bench/forgery.py

bench-load: install
	$(BIN)/python bench/load.py

# Refresh the locks after changing a dependency in pyproject.toml: uv resolves for every platform from Python 3.11
# on, with hashes; everything first, then the site's share (web, scale) at the same versions. Versions already
# locked are kept; `make lock UPGRADE=1` moves everything to the newest release the ranges allow.
LOCK = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --fork-strategy fewest \
	--generate-hashes --quiet --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

lock: $(BIN)/python
	$(BIN)/pip install --quiet 'uv>=0.5'
	$(LOCK) --all-extras -o requirements-dev.lock
	$(LOCK) --extra web --extra scale -c requirements-dev.lock -o requirements.lock
