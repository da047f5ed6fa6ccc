# Two commands: `make run` (the whole system on this machine) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-eir i18n clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "MCQS needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mcqs-demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

# Figures into docs/benchmarks.md: the per-step table (SQLite, and PostgreSQL when
# MCQS_TEST_POSTGRES_URL is set), then production serving on PostgreSQL (MCQS_TEST_POSTGRES_URL,
# or postgresql://postgres@127.0.0.1:5432/postgres), then issue 10's goals beside their
# baselines (a 10-minute memory soak included: about 20 minutes in all).
bench: $(STAMP)
	$(BIN)/python bench/flow.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/goals.py

# Re-extract the texts to translate into the template and merge it into the en and ru
# catalogs (new texts arrive untranslated, changed ones fuzzy: translate them, then
# `make test`; docs/translating.md).
LOCALE := src/mcqs/locale
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project=MCQS \
		--copyright-holder=MCQS --width=100 -o $(LOCALE)/messages.pot src/mcqs
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages \
		--previous --ignore-obsolete --width=100

# The EIR at national scale (about 15 minutes): a 10-million-IMEI registry on PostgreSQL
# (MCQS_TEST_POSTGRES_URL's server), wrk beside a raw ASGI endpoint, bulk, import, lists.
bench-eir: $(STAMP)
	$(BIN)/python bench/eir.py

clean:
	rm -rf $(VENV) var test-output
