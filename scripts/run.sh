#!/usr/bin/env bash
# `make run`: a local cluster under .run/ (SCHED_RUN_DIR moves it; socket only, no TCP port) with pg_sched
# preloaded, one sched-worker, an example workflow (started once) and the web console on
# SCHED_CONSOLE_LISTEN (default 127.0.0.1:8080), which a demo role signs in to with its
# password. Ctrl-C or `make stop` stops it all. What was made in .run/ survives rebuilds: the
# extension is updated in place (RESET=1 drops it all).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${SCHED_RUN_DIR:-$PWD/.run}
PG_BIN=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
DATA=$RUN_DIR/data
WORKER_PID=$RUN_DIR/worker.pid
CONSOLE_PID=$RUN_DIR/console.pid
CONSOLE_LISTEN=${SCHED_CONSOLE_LISTEN:-127.0.0.1:8080}
DEMO_PASSWORD_FILE=$RUN_DIR/demo.password

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
    if [ -f "$CONSOLE_PID" ]; then
        kill -TERM "$(cat "$CONSOLE_PID")" 2>/dev/null || true
        rm -f "$CONSOLE_PID"
    fi
    if [ -f "$WORKER_PID" ]; then
        # The worker's grace period is 5 s (below); give it that and the time to report.
        kill -TERM "$(cat "$WORKER_PID")" 2>/dev/null || true
        for _ in $(seq 200); do kill -0 "$(cat "$WORKER_PID")" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$(cat "$WORKER_PID")" 2>/dev/null || true
        rm -f "$WORKER_PID"
    fi
    if [ -f "$DATA/postmaster.pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
    fi
}

if [ "${1:-}" = stop ]; then
    stop
    echo "pg_sched stopped"
    exit 0
fi

stop # a previous run left running (or killed) must not get in the way
if [ "${RESET:-}" = 1 ]; then
    rm -rf "$RUN_DIR"
    echo "RESET=1: $RUN_DIR removed; starting from an empty cluster"
fi
mkdir -p "$RUN_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$RUN_DIR"
if [ ! -f "$DATA/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -A trust -U postgres -E UTF8 -D "$DATA" >/dev/null
    cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_sched'
listen_addresses = ''
unix_socket_directories = '$RUN_DIR'
CONF
fi
# The console signs a role in only when PostgreSQL verified its password, so every role but
# the two this script and the worker log in as (trusted on the socket; the console refuses
# them) must give one. Rewritten each time: clusters of earlier runs trusted every role.
as_postgres tee "$DATA/pg_hba.conf" >/dev/null <<'HBA'
# written by scripts/run.sh
local  all  postgres    trust
local  all  run_worker  trust
local  all  all         scram-sha-256
HBA
as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$RUN_DIR/server.log" -w start >/dev/null

if [ ! -s "$DEMO_PASSWORD_FILE" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$DEMO_PASSWORD_FILE")
fi
DEMO_PASSWORD=$(cat "$DEMO_PASSWORD_FILE")

PSQL=("$PG_BIN/psql" -h "$RUN_DIR" -U postgres -d postgres -v ON_ERROR_STOP=1 -q)
# What the user made in .run/ is kept: the extension is updated in place to the version just
# installed, as in production. RESET=1 (make run RESET=1) starts from an empty cluster.
installed=$("${PSQL[@]}" -At -c "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_sched'")
if [ -n "$installed" ] && ! "${PSQL[@]}" -c "ALTER EXTENSION pg_sched UPDATE" 2>"$RUN_DIR/update.err"; then
    echo "the pg_sched of $RUN_DIR is version $installed and cannot be updated to this build's:" >&2
    cat "$RUN_DIR/update.err" >&2
    echo "(versions before 0.2.0 have no upgrade path); \`make run RESET=1\` starts afresh, dropping $RUN_DIR" >&2
    stop
    exit 1
fi
# The password goes through the environment, not psql's command line (ps would show it).
DEMO_PASSWORD=$DEMO_PASSWORD "${PSQL[@]}" <<'SQL'
\getenv demo_password DEMO_PASSWORD
CREATE EXTENSION IF NOT EXISTS pg_sched;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'run_worker') THEN
        CREATE ROLE run_worker LOGIN IN ROLE sched_worker;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo') THEN
        CREATE ROLE demo LOGIN IN ROLE sched_admin;
    END IF;
END $$;
ALTER ROLE demo PASSWORD :'demo_password';
SELECT sched.create_workflow('{
  "name": "example_etl",
  "description": "extract, two transforms in parallel, load",
  "tasks": [
    {"name": "extract", "type": "shell", "script": "echo extracting; sleep 1"},
    {"name": "clean", "type": "shell", "script": "echo cleaning", "deps": ["extract"]},
    {"name": "enrich", "type": "shell", "script": "echo enriching", "deps": ["extract"]},
    {"name": "load", "type": "shell", "script": "echo loading", "deps": ["clean", "enrich"]}
  ]}', replace => true) \gset
SQL

trap 'echo; stop; echo "pg_sched stopped"; exit 0' INT TERM
target/release/sched-worker --database-url "host=$RUN_DIR user=run_worker dbname=postgres" \
    --name run-worker --work-dir "$RUN_DIR/work" --shutdown-grace 5 2>>"$RUN_DIR/worker.log" &
echo $! >"$WORKER_PID"
target/release/sched-console --listen "$CONSOLE_LISTEN" --database-url "host=$RUN_DIR dbname=postgres" \
    2>>"$RUN_DIR/console.log" &
echo $! >"$CONSOLE_PID"
# The console checks before it listens that PostgreSQL verifies passwords; say so if not.
for _ in $(seq 100); do
    if ! kill -0 "$(cat "$CONSOLE_PID")" 2>/dev/null; then
        echo "sched-console did not start (.run/console.log):"
        tail -n 20 "$RUN_DIR/console.log"
        stop
        exit 1
    fi
    (exec 3<>"/dev/tcp/${CONSOLE_LISTEN%:*}/${CONSOLE_LISTEN##*:}") 2>/dev/null && break
    sleep 0.1
done

# The port names the socket file; PostgreSQL took it from PGPORT if that is set.
PORT=$("${PSQL[@]}" -At -c "SHOW port")
INSTANCE=$("${PSQL[@]}" -At -c "SELECT sched.start_workflow('example_etl')")

cat <<MSG
pg_sched is running (server log: .run/server.log, worker log: .run/worker.log).
The web console is at http://$CONSOLE_LISTEN (SCHED_CONSOLE_LISTEN=host:port moves it):
sign in as demo, password $DEMO_PASSWORD (a sched_admin; the password is in
.run/demo.password). PostgreSQL checks the password of every role but postgres and
run_worker (.run/data/pg_hba.conf).

example_etl is running as instance $INSTANCE. To use sched (or psql) against this cluster:

    export PGHOST=$RUN_DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
    sched wait $INSTANCE
    sched status $INSTANCE
    sched logs $INSTANCE extract
    sched start example_etl --wait

or in psql:

    psql -h $RUN_DIR -p $PORT -U postgres
    SELECT sched.wait_workflow($INSTANCE);
    SELECT task, state, started_at, ended_at FROM sched.task_instances
    WHERE workflow_instance_id = $INSTANCE ORDER BY id;

Ctrl-C here (or 'make stop' elsewhere) stops everything.
MSG
while kill -0 "$(cat "$WORKER_PID" 2>/dev/null)" 2>/dev/null; do
    sleep 1 &
    wait $! || true
done
echo "the worker exited; see .run/worker.log"
stop
