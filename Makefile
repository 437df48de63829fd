# pg_sched: `make run` to try it, `make test` for everything CI checks.
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PREFIX    ?= /usr/local
export PG_CONFIG

.PHONY: setup install run stop test chaos bench clean

## Installs what is missing, and only that: Debian packages, cargo-pgrx 0.18.0, pgrx's config.
setup:
	@scripts/setup.sh

## Release build: the extension into $(PG_CONFIG)'s PostgreSQL, sched-worker, sched and sched-console into $(PREFIX)/bin.
install: setup
	cargo pgrx install --release -p pg_sched --pg-config "$(PG_CONFIG)"
	cd console/web && npm ci --no-audit --no-fund && npm run build
	cargo build --release -p sched-worker -p sched-cli -p sched-console
	install -D -m 0755 target/release/sched-worker "$(DESTDIR)$(PREFIX)/bin/sched-worker"
	install -D -m 0755 target/release/sched "$(DESTDIR)$(PREFIX)/bin/sched"
	install -D -m 0755 target/release/sched-console "$(DESTDIR)$(PREFIX)/bin/sched-console"

## A local cluster under .run/ with pg_sched, one worker and an example workflow; Ctrl-C stops it.
run: install
	@scripts/run.sh

stop:
	@scripts/run.sh stop

## Unit tests, then integration tests against real clusters and real workers.
test: install
	cargo test -p sched-core -p sched-worker -p sched-cli -p sched-console
	cargo test -p sched-tests --tests -- --test-threads=2

## The chaos test of `make test`, bigger and longer, for operators; CHAOS_TASKS, CHAOS_WORKERS,
## CHAOS_SECONDS (in the environment or on the command line) size it, CHAOS_SEED replays a run.
chaos: install
	CHAOS_TASKS=$${CHAOS_TASKS:-5000} CHAOS_WORKERS=$${CHAOS_WORKERS:-5} CHAOS_SECONDS=$${CHAOS_SECONDS:-300} \
		cargo test -p sched-tests --test chaos -- --nocapture

## Benchmarks of the hot path next to pgbench's floor; writes bench/results/latest.json.
bench: install
	cargo run --release -p sched-bench

clean:
	@scripts/run.sh stop || true
	rm -rf .run target
