# shellcheck shell=bash
# The production shape of scripts/real-galaxy.sh (start DIR [PORT] --production), sourced by it:
# it uses that script's $venv, $python, $version, say and pip_q.
#
#   PostgreSQL   a throwaway database galaxy_<random> on the machine's server (127.0.0.1:5432,
#                trust, user postgres), dropped on stop; without one, a throwaway cluster from
#                scripts/test-postgres.sh in DIR/postgres.
#   Celery       enable_celery_tasks, the broker RabbitMQ (127.0.0.1:5672, guest/guest) in a vhost of
#                its own (galaxy_<random>, deleted on stop), so that parallel Galaxies never take each
#                other's tasks. RabbitMQ rather than Redis: kombu's py-amqp is a dependency of celery,
#                so the broker needs no package Galaxy does not pin, and a vhost isolates completely
#                (Redis has 16 numbered databases to share). The same vhost carries Galaxy's own
#                control queues (amqp_internal_connection), as on usegalaxy.* servers. The results
#                go to Celery's SQLAlchemy backend in the same throwaway PostgreSQL database (no extra
#                package, dropped with it; Galaxy's default would be an SQLite file in data_dir).
#   Processes    started by Gravity (galaxyctl, in the venv: Galaxy pins it) with its supervisord
#                process manager: gunicorn (one worker, on a unix socket DIR/gunicorn.sock), a Celery
#                worker and Celery beat, and two job handlers (Gravity's `handlers:`, pool
#                job-handlers) to which the job configuration assigns jobs with db-skip-locked, so
#                the web process handles none. Gravity refuses supervisord as root ("Gravity cannot
#                be run as root unless using the systemd process manager") unless
#                GRAVITY_SKIP_SYSTEMD=1, which it honours for containers without systemd: set here.
#   nginx        Debian's, in front, on 127.0.0.1:PORT, Galaxy under /galaxy (galaxy_url_prefix),
#                its own page for 502/503/504 while Galaxy is down; a process of its own (not
#                Debian's service), config, pid, logs and temp files in DIR/nginx. halt stops
#                Galaxy and leaves nginx up.
# With Celery enabled, fetch (/api/tools/fetch) runs as a chain of Celery tasks in the Celery
# worker (galaxy.tools.execute: setup_fetch_data | fetch_data | set_job_metadata | finish_job),
# never in a job handler; the legacy library uploads (upload1) run in a job handler.

# The machine's servers (REAL_GALAXY_PG_PORT: another port, e.g. one where nothing answers, to try the fallback).
pg_host=127.0.0.1
pg_port=${REAL_GALAXY_PG_PORT:-5432}
amqp_host=127.0.0.1
amqp_port=5672

# psycopg2-binary: Galaxy's pins leave the PostgreSQL driver out; Galaxy's own
# conditional-requirements.txt names the release (the one `galaxy-dependencies` would install).
# Installed only for the production shape, when it is not there: the venv's .installed marker
# (which names how the pinned install was made) is left alone, the default shape never pays.
prod_install_extras() {
  if "$venv/bin/python" -c 'import psycopg2' 2>/dev/null; then return; fi
  local req
  req=$("$venv/bin/python" -c 'import os, galaxy.dependencies as d; print(os.path.join(os.path.dirname(d.__file__), "conditional-requirements.txt"))')
  local pin
  pin=$(grep -m 1 '^psycopg2-binary' "$req" 2>/dev/null | sed 's/[ ;#].*//' || true)
  say "Galaxy $version: installing ${pin:-psycopg2-binary} (the PostgreSQL driver) into $venv"
  pip_q install -q "${pin:-psycopg2-binary}" >/dev/null
}

prod_check_tools() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v psql >/dev/null || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing Debian packages: ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
    else
      say "--production needs: apt-get install ${missing[*]}"
      exit 1
    fi
  fi
  command -v rabbitmqctl >/dev/null || [ -x /usr/sbin/rabbitmqctl ] || {
    say "--production needs RabbitMQ on $amqp_host:$amqp_port and rabbitmqctl (to make a vhost): apt-get install rabbitmq-server"
    exit 1
  }
}

nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }
rabbitmqctl_bin() { command -v rabbitmqctl || echo /usr/sbin/rabbitmqctl; }

# A database of its own on the machine's PostgreSQL, else on a throwaway cluster; the URL in DIR/database.
prod_make_database() {
  local dir=$1 name=$2
  if PGCONNECT_TIMEOUT=3 psql -h "$pg_host" -p "$pg_port" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
    psql -h "$pg_host" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name" >/dev/null
    echo "postgresql://postgres@$pg_host:$pg_port/$name" >"$dir/database"
    say "PostgreSQL: database $name on $pg_host:$pg_port"
  else
    say "PostgreSQL does not answer on $pg_host:$pg_port: a throwaway cluster (scripts/test-postgres.sh) in $dir/postgres"
    local port env
    port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env=$("$here/test-postgres.sh" start "$dir/postgres" "$port")
    local password
    password=$(echo "$env" | sed -n 's/^GALAXY_IMPORTD_TEST_PGPASSWORD=//p')
    PGPASSWORD=$password psql -h 127.0.0.1 -p "$port" -U importd -d importd -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name" >/dev/null
    echo "postgresql://importd:$password@127.0.0.1:$port/$name" >"$dir/database"
  fi
}

prod_drop_database() {
  local dir=$1
  [ -f "$dir/database" ] || return 0
  if [ -d "$dir/postgres" ]; then
    "$here/test-postgres.sh" stop "$dir/postgres" || true
  else
    local name
    name=$(sed 's|.*/||' "$dir/database")
    psql -h "$pg_host" -p "$pg_port" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 ||
      say "could not drop the database $name on $pg_host:$pg_port"
  fi
  rm -f "$dir/database"
}

prod_make_vhost() {
  local dir=$1 name=$2
  local ctl
  ctl=$(rabbitmqctl_bin)
  "$ctl" -q add_vhost "$name" >/dev/null
  "$ctl" -q set_permissions -p "$name" guest '.*' '.*' '.*' >/dev/null
  echo "$name" >"$dir/amqp_vhost"
  say "RabbitMQ: vhost $name on $amqp_host:$amqp_port"
}

prod_drop_vhost() {
  local dir=$1
  [ -f "$dir/amqp_vhost" ] || return 0
  "$(rabbitmqctl_bin)" -q delete_vhost "$(cat "$dir/amqp_vhost")" >/dev/null 2>&1 || say "could not delete the RabbitMQ vhost $(cat "$dir/amqp_vhost")"
  rm -f "$dir/amqp_vhost"
}

# galaxy.yml (galaxy: and gravity:), the job configuration, nginx.conf; the database and the vhost.
prod_write_config() {
  local dir=$1 port=$2
  local name
  name=galaxy_$("$python" -c 'import secrets; print(secrets.token_hex(6))')
  prod_make_database "$dir" "$name"
  prod_make_vhost "$dir" "$name"
  local db amqp style=""
  if gravity_needs_shim; then
    touch "$dir/gravity-shim"
    style="  service_command_style: direct"
  fi
  # Gravity 1.0.x writes job handlers as `python ./lib/galaxy/main.py` in galaxy_root (a source
  # tree); later releases run the installed `galaxy-main`. For those, DIR/lib/galaxy/main.py
  # execs galaxy-main with the same arguments (the real galaxy package, a regular one, still
  # comes first on the path: this directory only extends it).
  if grep -q '\./lib/galaxy/main\.py' "$("$venv/bin/python" -c 'import gravity.state as s; print(s.__file__)')" &&
    ! grep -q 'galaxy-main' "$("$venv/bin/python" -c 'import gravity.state as s; print(s.__file__)')"; then
    mkdir -p "$dir/lib/galaxy"
    printf '%s\n' '# Written by scripts/real-galaxy.sh: Gravity 1.0.x starts handlers as ./lib/galaxy/main.py; this Galaxy is installed.' \
      'import os, sys' "os.execv('$venv/bin/galaxy-main', ['galaxy-main'] + sys.argv[1:])" >"$dir/lib/galaxy/main.py"
  fi
  db=$(cat "$dir/database")
  amqp="pyamqp://guest:guest@$amqp_host:$amqp_port/$name"
  # The single shape's galaxy.yml, with the production settings in place of its own.
  sed -i \
    -e "s|^  database_connection: .*|  database_connection: \"$db\"|" \
    -e '/^  enable_celery_tasks: false/d' \
    -e '/^  job_handler_monitor_sleep: /d' -e '/^  job_runner_monitor_sleep: /d' \
    -e '/^  # As Galaxy.s own test driver: jobs are picked up/d' \
    "$dir/galaxy.yml"
  cat >>"$dir/galaxy.yml" <<YML
  # The production shape (scripts/galaxy-production/production.sh).
  galaxy_url_prefix: /galaxy
  galaxy_infrastructure_url: "http://127.0.0.1:$port/galaxy"
  job_config_file: "$dir/config/job_conf.yml"
  enable_celery_tasks: true
  amqp_internal_connection: "$amqp"
  celery_conf:
    broker_url: null
    result_backend: "db+$db"
    task_routes:
      galaxy.fetch_data: galaxy.external
      galaxy.set_job_metadata: galaxy.external

gravity:
  process_manager: supervisor
$style
  galaxy_root: "$dir"
  virtualenv: "$venv"
  log_dir: "$dir/logs"
  gunicorn:
    bind: "unix:$dir/gunicorn.sock"
    workers: 1
    timeout: 300
    preload: true
  celery:
    concurrency: 2
    loglevel: INFO
    enable_beat: true
  handlers:
    handler:
      processes: 2
      pools:
        - job-handlers
        - workflow-schedulers
YML
  # Jobs (upload1; fetch runs in Celery) go to the handlers through the database: each handler
  # takes the unassigned jobs with SELECT … FOR UPDATE SKIP LOCKED (Galaxy's scaling docs).
  cat >"$dir/config/job_conf.yml" <<YML
runners:
  local:
    load: galaxy.jobs.runners.local:LocalJobRunner
    workers: 4
handling:
  assign:
    - db-skip-locked
execution:
  default: local
  environments:
    local:
      runner: local
YML
  mkdir -p "$dir/nginx/html" "$dir/nginx/tmp" "$dir/logs"
  cp "$here/galaxy-production/galaxy-down.html" "$dir/nginx/html/galaxy-down.html"
  # As root the workers run as root too: they must reach the gunicorn socket and DIR (mode 700
  # under mktemp -d); a production site gives them a group instead.
  local user=""
  if [ "$(id -u)" = 0 ]; then user="user root;"; fi
  cat >"$dir/nginx/nginx.conf" <<NGINX
# Written by scripts/real-galaxy.sh --production: nginx in front of the Galaxy of $dir.
$user
daemon off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 512; }
http {
  access_log $dir/nginx/access.log;
  client_body_temp_path $dir/nginx/tmp/client_body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  default_type application/octet-stream;
  upstream galaxy {
    server unix:$dir/gunicorn.sock;
  }
  server {
    listen 127.0.0.1:$port;
    server_name localhost;
    client_max_body_size 10g;
    # As Galaxy's docs (admin/nginx.html) for a Galaxy under a URL prefix.
    location = /galaxy { return 301 /galaxy/; }
    location /galaxy/ {
      proxy_pass http://galaxy;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_http_version 1.1;
      proxy_read_timeout 300s;
    }
    # nginx's own page while nothing listens on the socket (Galaxy halted or restarting); an
    # error Galaxy itself answers passes through unchanged (no proxy_intercept_errors).
    error_page 502 503 504 /galaxy-down.html;
    location = /galaxy-down.html {
      root $dir/nginx/html;
      internal;
    }
  }
}
NGINX
}

prod_nginx_running() {
  local dir=$1
  [ -f "$dir/nginx.pid" ] && kill -0 "$(cat "$dir/nginx.pid")" 2>/dev/null
}

prod_nginx_start() {
  local dir=$1
  prod_nginx_running "$dir" && return 0
  local nginx
  nginx=$(nginx_bin)
  "$nginx" -t -q -e "$dir/nginx/error.log" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" >&2
  setsid "$nginx" -e "$dir/nginx/error.log" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" >>"$dir/nginx/error.log" 2>&1 </dev/null &
  echo $! >"$dir/nginx.pid"
  local port
  port=$(cat "$dir/port")
  for _ in $(seq 1 50); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    prod_nginx_running "$dir" || break
    sleep 0.2
  done
  tail -n 20 "$dir/nginx/error.log" >&2
  say "nginx did not start (log above: $dir/nginx/error.log)"
  exit 1
}

prod_nginx_stop() {
  local dir=$1
  prod_nginx_running "$dir" || { rm -f "$dir/nginx.pid"; return 0; }
  local pid
  pid=$(cat "$dir/nginx.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/nginx.pid"
}

# Whether this Gravity refuses supervisord as root with no way around it: Gravity 1.0.x
# (Galaxy 24.2 pins 1.0.6) checks os.geteuid() alone; GRAVITY_SKIP_SYSTEMD came later (1.2.x).
gravity_needs_shim() {
  [ "$(id -u)" = 0 ] || return 1
  ! grep -q GRAVITY_SKIP_SYSTEMD "$("$venv/bin/python" -c 'import gravity.util as u; print(u.__file__)')"
}

# galaxyctl with the venv first on PATH (jobs run the venv's python) and this Galaxy's config.
# With a Gravity that has no GRAVITY_SKIP_SYSTEMD, galaxyctl runs with os.geteuid() answering
# non-root (what that variable does in later releases), and the services are written with
# service_command_style: direct (their commands as such, not `galaxyctl exec`, which would
# refuse again under supervisord).
galaxyctl_() {
  local dir=$1
  shift
  (
    export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" GALAXY_CONFIG_FILE="$dir/galaxy.yml" GRAVITY_SKIP_SYSTEMD=1
    unset PYTHONPATH PYTHONHOME SUPERVISORD_SOCKET GRAVITY_STATE_DIR
    cd "$dir"
    if [ -f "$dir/gravity-shim" ]; then
      exec "$venv/bin/python" -c 'import os, sys; os.geteuid = lambda: 65534; sys.argv[0] = "galaxyctl"; from gravity.cli import galaxyctl; sys.exit(galaxyctl())' \
        --config-file "$dir/galaxy.yml" "$@"
    fi
    exec "$venv/bin/galaxyctl" --config-file "$dir/galaxy.yml" "$@"
  )
}

supervisord_pidfile() { echo "$1/data/gravity/supervisor/supervisord.pid"; }

prod_serve() {
  local dir=$1
  local port
  port=$(cat "$dir/port")
  local t0=$SECONDS
  prod_nginx_start "$dir"
  # Galaxy's database made (or migrated) once, as Galaxy's create_db.sh does, before the five
  # processes that would otherwise all try it at once on a new database.
  (
    export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" GALAXY_CONFIG_FILE="$dir/galaxy.yml"
    unset PYTHONPATH PYTHONHOME
    cd "$dir"
    "$venv/bin/python" -c '
import sys
from galaxy.model.migrations import verify_databases_via_script
from galaxy.model.migrations.scripts import get_configuration_from_file
gxy, tsi, auto = get_configuration_from_file(".", sys.argv[1])
verify_databases_via_script(gxy, tsi, auto)
' "$dir/galaxy.yml" >>"$dir/galaxy.log" 2>&1
  ) || { tail -n 30 "$dir/galaxy.log" >&2; say "creating Galaxy's database failed (log above: $dir/galaxy.log)"; exit 1; }
  galaxyctl_ "$dir" start >>"$dir/galaxy.log" 2>&1 || {
    tail -n 40 "$dir/galaxy.log" >&2
    say "galaxyctl start failed (log above: $dir/galaxy.log)"
    exit 1
  }
  local pidfile
  pidfile=$(supervisord_pidfile "$dir")
  cp "$pidfile" "$dir/galaxy.pid"
  local url="http://127.0.0.1:$port/galaxy"
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url/api/version" 2>/dev/null; then
      say "Galaxy answers on $url (through nginx) after $((SECONDS - t0)) s"
      return
    fi
    local bad
    bad=$(galaxyctl_ "$dir" status 2>/dev/null | grep -E 'FATAL|BACKOFF|EXITED' || true)
    if [ -n "$bad" ] || ! kill -0 "$(cat "$dir/galaxy.pid")" 2>/dev/null; then
      echo "$bad" >&2
      tail -n 40 "$dir"/logs/*.log >&2 || true
      say "Galaxy's processes exited while starting (logs above: $dir/logs)"
      exit 1
    fi
    sleep 1
  done
  tail -n 40 "$dir"/logs/gunicorn.log >&2 || true
  say "Galaxy did not answer on $url within 600 s"
  exit 1
}

prod_halt() {
  local dir=$1
  local pidfile pid=""
  pidfile=$(supervisord_pidfile "$dir")
  [ -f "$pidfile" ] && pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Gravity stops every service (stopasgroup: each with its children, jobs included) and then supervisord.
    galaxyctl_ "$dir" shutdown >>"$dir/galaxy.log" 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 90); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Anything left of this Galaxy (a process started from DIR) is ended.
  local left
  left=$(grep -lzxF -- "GALAXY_CONFIG_FILE=$dir/galaxy.yml" /proc/[0-9]*/environ 2>/dev/null | sed 's|/proc/\([0-9]*\)/environ|\1|' || true)
  for p in $left; do
    [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] || kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$dir/galaxy.pid" "$dir/gunicorn.sock"
}

prod_stop() {
  local dir=$1
  prod_halt "$dir"
  prod_nginx_stop "$dir"
  prod_drop_vhost "$dir"
  prod_drop_database "$dir"
}
