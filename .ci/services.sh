#!/usr/bin/env bash
# Start throwaway PostgreSQL and Redis servers on loopback for the test suite (CI runs as root).
#
#   source .ci/services.sh            # exports TEST_POSTGRES_URL, TEST_REDIS_URL and PGPASSFILE
#   eval "$(bash .ci/services.sh)"    # the same from a subshell: prints only `export ...` lines
#
# Idempotent: servers already running from an earlier call are reused. The database password is random per
# cluster and lives only in a pgpass file (mode 600), so nothing printed here is secret. Ports and the state
# directory can be changed with CERTVERIFY_PG_PORT, CERTVERIFY_REDIS_PORT and CERTVERIFY_SERVICES_DIR.

_cv_services() {
    set -euo pipefail
    local dir="${CERTVERIFY_SERVICES_DIR:-/tmp/certverify-services}"
    local pg_port="${CERTVERIFY_PG_PORT:-54329}"
    local redis_port="${CERTVERIFY_REDIS_PORT:-63799}"

    local missing=()
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    if ((${#missing[@]})); then
        echo "services: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    local pgbin
    pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

    mkdir -p "$dir"
    chmod 755 "$dir"

    # --- PostgreSQL: a private cluster owned by the postgres user, TCP on 127.0.0.1 only ----------------------
    local pgdata="$dir/pgdata" pgsock="$dir/pgsock" pgpass="$dir/pgpass" pglog="$dir/pglog"
    install -d -o postgres -g postgres -m 755 "$pgsock" "$pglog"
    if [[ ! -s "$pgdata/PG_VERSION" ]]; then
        rm -rf "$pgdata"
        install -d -o postgres -g postgres -m 700 "$pgdata"
        runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" --username=postgres --auth-local=trust \
            --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$pglog/initdb.log" 2>&1
    fi
    if ! "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
        # A server killed with its session leaves postmaster.pid behind, and its PID may since belong to another
        # process: stop a real postmaster, forget a stale file.
        if [[ -f "$pgdata/postmaster.pid" ]]; then
            local pid
            pid="$(head -n 1 "$pgdata/postmaster.pid")"
            if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]]; then
                runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >&2 || true
            fi
            rm -f "$pgdata/postmaster.pid"
        fi
        rm -f "$pgsock/.s.PGSQL.$pg_port" "$pgsock/.s.PGSQL.$pg_port.lock"
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pglog/postgres.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pgsock -c max_connections=200" >&2
    fi
    if [[ ! -s "$pgpass" ]]; then
        local password
        password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- "$pgbin/psql" -h "$pgsock" -p "$pg_port" -U postgres -d postgres -q \
            -v ON_ERROR_STOP=1 -v pw="$password" >/dev/null <<'SQL'
DROP DATABASE IF EXISTS certverify;
DROP ROLE IF EXISTS certverify;
CREATE ROLE certverify LOGIN CREATEDB PASSWORD :'pw';
CREATE DATABASE certverify OWNER certverify;
SQL
        (umask 077 && echo "127.0.0.1:$pg_port:*:certverify:$password" >"$pgpass")
    fi

    # --- Redis: loopback only, no persistence ------------------------------------------------------------------
    if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
        redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
            --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >&2
        for _ in $(seq 50); do
            redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
    fi

    CV_EXPORTS="export PGPASSFILE=$pgpass
export TEST_POSTGRES_URL=postgresql+psycopg://certverify@127.0.0.1:$pg_port/certverify
export TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: run this file as a child (so `set -e` cannot end the caller's shell), then export in the caller.
    if CV_EXPORTS="$(bash "${BASH_SOURCE[0]}")"; then
        eval "$CV_EXPORTS"
        echo "services: PostgreSQL at $TEST_POSTGRES_URL, Redis at $TEST_REDIS_URL" >&2
        unset CV_EXPORTS
    else
        unset CV_EXPORTS
        echo "services: failed to start PostgreSQL or Redis (logs in ${CERTVERIFY_SERVICES_DIR:-/tmp/certverify-services})" >&2
        return 1
    fi
else
    _cv_services
    echo "$CV_EXPORTS"
fi
