#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for the tests of the shared
# ledger (issue 6). Needs Debian's postgresql package (its binaries, not its service).
#
#   scripts/test-postgres.sh start DIR [PORT]   start it; prints the two variables the tests read:
#       GALAXY_IMPORTD_TEST_POSTGRESQL=postgresql://importd@127.0.0.1:PORT/importd
#       GALAXY_IMPORTD_TEST_PGPASSWORD=...
#   scripts/test-postgres.sh stop DIR           stop it and remove DIR
#
# As root the server runs as the postgres user (initdb refuses root).
set -euo pipefail
cmd=${1:?usage: test-postgres.sh start|stop DIR [PORT]}
dir=${2:?usage: test-postgres.sh start|stop DIR [PORT]}
port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "test-postgres.sh: no /usr/lib/postgresql/*/bin: apt-get install postgresql" >&2
  exit 1
fi
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
password=importd-test-password

case $cmd in
start)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  as_pg sh -c "umask 077; printf '%s\n' 'postgres-test-password' > '$dir/superuser-password'"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$dir/superuser-password" >"$dir/initdb.log" 2>&1
  # Loopback only; the socket in DIR; fsync off: a test cluster is thrown away.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off" start >/dev/null
  as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE importd LOGIN CREATEDB PASSWORD '$password'" \
    -c "CREATE DATABASE importd OWNER importd"
  echo "GALAXY_IMPORTD_TEST_POSTGRESQL=postgresql://importd@127.0.0.1:$port/importd"
  echo "GALAXY_IMPORTD_TEST_PGPASSWORD=$password"
  ;;
stop)
  if [ -d "$dir/data" ]; then as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: test-postgres.sh start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
