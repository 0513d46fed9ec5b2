# Command one:  make run    (venv, install, migrate, demo data, web + worker)
# Command two:  make test   (lint, types, migrations check, the whole test suite)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= 1

# Tests run in parallel, two pytest-xdist workers per core: much of the suite waits on the worker,
# server and browser processes it starts, and a second worker per core fills that time (each worker
# has its own test database, test_<name>_gw0, gw1, ...). PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= $(shell echo $$((2 * $$(nproc 2>/dev/null || echo 1))))

.PHONY: install run test test-redis test-fast lint bench load clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_campaigns
	$(BIN)/python manage.py seed_review_demo
	$(BIN)/python manage.py serve_all --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy outreach review campaigns
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The tests that hand tasks to the django-q2 broker (marked `broker`), again with Redis as the
# broker: one private redis-server per pytest process (tests/broker.py). CI runs it after `make test`.
test-redis: install
	TEST_BROKER=redis $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m broker $(PYTEST_ARGS)

# The inner loop: everything but the browser, tests that start worker/server processes, and property tests.
test-fast: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not browser and not processes and not property" $(PYTEST_ARGS)

# Benchmarks print tables of measures against targets; run them against PostgreSQL:
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/outreach make bench
bench: install
	$(BIN)/python -m pytest tests/benchmarks -o python_files='bench_*.py' -s -q $(PYTEST_ARGS)

# The multi-process load test: two gunicorn masters behind a round-robin proxy, two qclusters, a
# private Redis, a real SMTP server counting arrivals; 50 reviewers + 5 API clients for 2 minutes.
#   LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/outreach_load make load
load: install
	$(BIN)/python tests/load/run_load.py --web-processes 2 --worker-processes 2 --broker redis --smtp $(LOAD_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3* test-db.sqlite3* staticfiles media
