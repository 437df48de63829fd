# pg_sched: `make run` to try it, `make test` for everything CI checks.
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PREFIX    ?= /usr/local
export PG_CONFIG

.PHONY: setup test-setup install run stop test test-sql vocabulary-sql release-sql package earlier-releases chaos bench bench-month clean

## What building and running need, and only what is missing: Debian packages, cargo-pgrx 0.18.0, pgrx's config.
setup:
	@scripts/setup.sh

## What only the tests need, and only what is missing: MariaDB, Chromium, Java and PySpark, aiosmtpd,
## pgTAP.
test-setup: setup
	@scripts/test-setup.sh

## Release build: the extension into $(PG_CONFIG)'s PostgreSQL (with the kept scripts of
## sql/releases/: earlier releases' install scripts and the upgrade scripts), sched-worker, sched
## and sched-console into $(PREFIX)/bin.
install: setup console/web/dist/index.html
	cargo pgrx install --release -p pg_sched --pg-config "$(PG_CONFIG)"
	install -m 0644 sql/releases/pg_sched--*.sql "$(DESTDIR)$$("$(PG_CONFIG)" --sharedir)/extension/"
	cargo build --release -p sched-worker -p sched-cli -p sched-console
	install -D -m 0755 target/release/sched-worker "$(DESTDIR)$(PREFIX)/bin/sched-worker"
	install -D -m 0755 target/release/sched "$(DESTDIR)$(PREFIX)/bin/sched"
	install -D -m 0755 target/release/sched-console "$(DESTDIR)$(PREFIX)/bin/sched-console"

# The console's web app, which sched-console embeds: rebuilt only when a source is newer than
# the last build, its packages only when the lock file is newer than the last install.
WEB_SOURCES := $(shell find console/web/src -type f) console/web/index.html console/web/vite.config.js

console/web/dist/index.html: console/web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd console/web && npm run build
	touch $@

console/web/node_modules/.package-lock.json: console/web/package.json console/web/package-lock.json
	cd console/web && npm ci --no-audit --no-fund
	touch $@

## Rewrites sql/1_schema/01_vocabulary.sql from core (the states, their sets and the command
## table, the priorities, the name rule); a core test fails while the file differs.
vocabulary-sql:
	SCHED_BLESS=1 cargo test -p sched-core --lib vocabulary

## A local cluster under .run/ with pg_sched, one worker, an example workflow started once and the
## web console on SCHED_CONSOLE_LISTEN (127.0.0.1:8080); Ctrl-C stops it. What you made there
## survives rebuilds (the extension is updated in place); `make run RESET=1` starts afresh.
run: install
	@scripts/run.sh

stop:
	@scripts/run.sh stop

## Keeps the install script of the version in Cargo.toml in sql/releases/, when a release is cut;
## `make test` fails while the kept script differs from the generated one.
release-sql:
	scripts/release-sql.sh

## Debian packages of this release into target/debian/: the extension, sched-worker and
## sched-console (with systemd units and /etc/sched/), sched-cli. See scripts/package.sh.
package: setup console/web/dist/index.html
	scripts/package.sh

## Every earlier release (CHANGELOG.md) built from its release commit into target/releases/,
## packages and sched-worker, for the upgrade tests; built once.
earlier-releases: setup console/web/dist/index.html
	scripts/earlier-releases.sh

## Unit tests, then the tests of sched-tests: the SQL tests (test-sql) and the integration tests
## against real clusters and real workers.
test: earlier-releases install package test-setup
	scripts/release-sql.sh --check
	cargo test -p sched-core -p sched-worker -p sched-cli -p sched-console
	cargo test -p sched-tests --tests -- --test-threads=2

## The SQL tests alone, in seconds: tests/sql/*.sql call the engine's functions directly and check
## them with pgTAP, each file in a transaction it rolls back (tests/tests/sql_unit.rs runs them).
test-sql: install test-setup
	cargo test -p sched-tests --test sql_unit

## The chaos test of `make test`, bigger and longer, for operators; CHAOS_TASKS, CHAOS_WORKERS,
## CHAOS_SECONDS (in the environment or on the command line) size it, CHAOS_SEED replays a run.
chaos: install
	CHAOS_TASKS=$${CHAOS_TASKS:-5000} CHAOS_WORKERS=$${CHAOS_WORKERS:-5} CHAOS_SECONDS=$${CHAOS_SECONDS:-300} \
		cargo test -p sched-tests --test chaos -- --nocapture

## Benchmarks of the hot path next to pgbench's floor; writes bench/results/latest.json. The
## month's alerts need the test SMTP server.
bench: test-setup install
	cargo run --release -p sched-bench

## Only the month (issue 31's production load), on a cluster of its own; its result replaces the
## month in bench/results/latest.json. BENCH_MONTH_ATTEMPTS=N for a shorter look than 10 million.
bench-month: test-setup install
	cargo run --release -p sched-bench -- month

clean:
	@scripts/run.sh stop || true
	rm -rf .run target
