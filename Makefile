# xQuant: `make run` (the product on embedded defaults) and `make test` (the suite on real
# PostgreSQL and Redis). Both create the virtualenv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The stamp's name changes whenever a requirements file does, which reinstalls.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | sha1sum | cut -c1-12)

HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/xquant
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/xquant_bench

.PHONY: install run test test-sqlite test-dates lint format lock bench bench-ab bench-streams bench-research bench-optimize soak fuzz vendor

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo "Dashboard: http://$(HOST):$(PORT)/   Admin: http://$(HOST):$(PORT)/admin/"
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: install
	scripts/ensure_services.sh
	scripts/ensure_browser.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) XQUANT_ENV=test \
	XQUANT_ENV_FILE=/nonexistent $(BIN)/pytest $(PYTEST_ARGS)
	@if [ -z "$(PYTEST_ARGS)" ]; then $(MAKE) --no-print-directory test-sqlite; fi

# The money path as `make run` runs it, on SQLite: ticks, fills and orders (the whole
# suite above runs on PostgreSQL, as production does). Part of `make test`.
SQLITE_TESTS ?= tests/trading/test_tick.py tests/trading/test_fills.py \
	tests/trading/test_order_state.py tests/trading/test_order_manager.py
test-sqlite: install
	mkdir -p var && rm -f var/test-money-path.sqlite3
	DATABASE_URL=sqlite:///$(CURDIR)/var/test-money-path.sqlite3 REDIS_URL= XQUANT_ENV=test \
	XQUANT_ENV_FILE=/nonexistent $(BIN)/pytest -q -p no:cacheprovider $(SQLITE_TESTS)

# The suite again with the clock moved (it keeps ticking from there): across a month's and
# a leap year's last midnight, and just before a new year. No test may depend on the date.
TEST_DATES ?= 2028-02-29T23:58:30Z 2030-12-31T23:59:00Z
test-dates: install
	@for now in $(TEST_DATES); do \
	  echo "== the suite at $$now"; \
	  XQUANT_TEST_NOW=$$now $(MAKE) --no-print-directory test || exit 1; \
	done

# Speed figures (docs/benchmarks.md): a throwaway PostgreSQL database, Redis as in production.
bench: install
	scripts/ensure_services.sh
	$(BIN)/python scripts/recreate_database.py $(BENCH_DATABASE_URL)
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  $(BIN)/python manage.py migrate -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  $(BIN)/python manage.py bench_tick --symbols 100 --strategies 5
	DATABASE_URL=$(BENCH_DATABASE_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  $(BIN)/python manage.py bench_backtest

# The tick benchmark of BASE (checked out into var/bench-base) and of the working tree,
# alternating A B A B on fresh databases xquant_bench_a/_b: a line per run, then medians.
BASE ?= 453113b
BENCH_RUNS ?= 2
bench-ab: install
	scripts/ensure_services.sh
	$(BIN)/python scripts/bench_ab.py --base $(BASE) --runs $(BENCH_RUNS)

# Streams (issue 19): a pushed fill's latency to the row and to a dashboard websocket,
# and the REST weight the streamed book saves; on a throwaway PostgreSQL database.
BENCH_STREAMS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/xquant_bench_streams
BENCH_FILLS ?= 1000
bench-streams: install
	scripts/ensure_services.sh
	$(BIN)/python scripts/recreate_database.py $(BENCH_STREAMS_DATABASE_URL)
	DATABASE_URL=$(BENCH_STREAMS_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  $(BIN)/python manage.py migrate -v0
	DATABASE_URL=$(BENCH_STREAMS_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  CHANNELS_PREFIX=xquant-bench-streams CACHE_PREFIX=xquant-bench-streams \
	  $(BIN)/python manage.py bench_streams --fills $(BENCH_FILLS)

# Faults in sequences against the Binance emulator, on a throwaway PostgreSQL database:
# ends with "intents N, exchange orders N, duplicates 0, lost fills 0, stuck 0, ...".
SOAK_MINUTES ?= 10
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/xquant_soak
soak: install
	scripts/ensure_services.sh
	$(BIN)/python scripts/recreate_database.py $(SOAK_DATABASE_URL)
	DATABASE_URL=$(SOAK_DATABASE_URL) REDIS_URL= XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING \
	  $(BIN)/python manage.py migrate -v0
	DATABASE_URL=$(SOAK_DATABASE_URL) REDIS_URL= XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING \
	  $(BIN)/python manage.py chaos_soak --minutes $(SOAK_MINUTES)

# Research speed next to the established peers, in wall-clock: vectorbt, backtesting.py and
# TA-Lib live in their own throwaway virtualenv (var/bench-peers), never in the product.
PEERS_VENV ?= var/bench-peers
bench-research: install
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/bench_peers_requirements.txt
	XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING DEBUG=false \
	  $(BIN)/python manage.py bench_research --peers-python $(PEERS_VENV)/bin/python

# Trials/s of one 200-trial study with 1 and 2 real Celery workers, in turn
# BENCH_OPTIMIZE_REPEAT times (the median speed-up is the figure), on a throwaway
# PostgreSQL database and a Redis database of its own (BENCH_REDIS_URL).
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/13
BENCH_OPTIMIZE_REPEAT ?= 3
BENCH_OPTIMIZE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/xquant_bench_optimize
bench-optimize: install
	scripts/ensure_services.sh
	$(BIN)/python scripts/recreate_database.py $(BENCH_OPTIMIZE_DATABASE_URL)
	DATABASE_URL=$(BENCH_OPTIMIZE_DATABASE_URL) XQUANT_ENV_FILE=/nonexistent LOG_LEVEL=WARNING \
	  $(BIN)/python manage.py migrate -v0
	DATABASE_URL=$(BENCH_OPTIMIZE_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) XQUANT_ENV_FILE=/nonexistent \
	  LOG_LEVEL=WARNING DEBUG=false $(BIN)/python manage.py bench_optimize --repeat $(BENCH_OPTIMIZE_REPEAT)

# schemathesis over the whole schema against a live daphne on a throwaway PostgreSQL
# database (scripts/fuzz.sh; FUZZ_MAX_EXAMPLES, FUZZ_MAX_TIME, FUZZ_SEED).
fuzz: install
	scripts/ensure_services.sh
	BIN=$(BIN) scripts/fuzz.sh

# mypy with django-stubs on the typed core (the files are listed in pyproject.toml); the
# plugin imports the settings, so it reads no developer's .env.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	XQUANT_ENV_FILE=/nonexistent $(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin every transitive dependency after editing requirements*.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements-dev.txt
	{ echo "# Every installed package pinned (pip freeze of requirements-dev.txt). Regenerate with"; \
	  echo "# \`make lock\` after changing requirements*.txt."; .lock-venv/bin/pip freeze; } > constraints.txt
	rm -rf .lock-venv

# Refresh the front-end libraries served from static/vendor/ after changing package.json
# (needs Node.js and the npm registry; the committed output needs neither).
vendor:
	npm ci --no-audit --no-fund
	npm run vendor
