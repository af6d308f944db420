# shellcheck shell=bash
# A Postgres cluster of its own for the scripts that read or break the ledger (lib/faults.sh,
# e2e-scale.sh): initdb + pg_ctl from Debian's postgresql, under QP_TMP/pg, trust on loopback,
# fsync off, run as the postgres user (or nobody: Postgres refuses to run as root), so a script
# can stop it and start it again. Source it after lib/common.sh. Nothing here stops it at exit:
# the script's EXIT trap calls pg_down (qp_cleanup only knows the processes in QP_PIDS).
#
# Sets PG_BIN, PG_USER, PG_DIR, PG_PORT, PG_URL (postgresql://quota@127.0.0.1:PORT/ledger).

PG_BIN="" PG_USER="" PG_DIR="" PG_PORT="" PG_URL=""

# sql QUERY: QUERY on the ledger database, unaligned, tab-separated, no headers.
sql() {
  psql -h 127.0.0.1 -p "$PG_PORT" -U quota -d ledger -At -F $'\t' -v ON_ERROR_STOP=1 -c "$1"
}

# start_postgres: a cluster of its own in QP_TMP/pg (initdb, trust on loopback, fsync
# off), database "ledger" owned by "quota". Postgres refuses to run as root, so it runs as
# the postgres user (Debian's package creates it) or nobody.
start_postgres() {
  PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
  [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || die "Postgres not found under /usr/lib/postgresql (Debian package postgresql)"
  need psql
  PG_USER=root
  if ((EUID == 0)); then
    if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
    chmod 711 "$QP_TMP"
  fi
  PG_DIR=$QP_TMP/pg
  mkdir -p "$PG_DIR"
  [[ "$PG_USER" == root ]] || chown "$PG_USER" "$PG_DIR"
  free_port
  PG_PORT=$FREE_PORT
  PG_URL=postgresql://quota@127.0.0.1:$PG_PORT/ledger
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U quota --auth=trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; die "initdb failed"; }
  pg_up
  psql -h 127.0.0.1 -p "$PG_PORT" -U quota -d postgres -qc 'create database ledger' || die "create database ledger"
  log "postgres $PG_URL ($("$PG_BIN/postgres" --version | awk '{ print $3 }'), as $PG_USER, data $PG_DIR/data)"
}

as_pg() {
  if [[ "$PG_USER" == root ]]; then "$@"; else runuser -u "$PG_USER" -- "$@"; fi
}

pg_up() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c fsync=off -c full_page_writes=off" \
    start >/dev/null || die "Postgres did not start (see $PG_DIR/postgres.log)"
}

# pg_down: an immediate stop, as a crash: no checkpoint, connections cut.
pg_down() {
  [[ -n "$PG_DIR" && -f "$PG_DIR/data/postmaster.pid" ]] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
}

# pg_dump_log: the last lines of Postgres's log (an EXIT trap calls it on failure).
pg_dump_log() {
  [[ -n "$PG_DIR" && -s "$PG_DIR/postgres.log" ]] || return 0
  printf '\n----- last 20 lines of %s -----\n' "$PG_DIR/postgres.log"
  tail -n 20 "$PG_DIR/postgres.log"
}
