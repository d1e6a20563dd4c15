#!/usr/bin/env bash
# A throwaway real Galaxy on a loopback port, installed from PyPI, for the real-Galaxy
# suite (test/real-galaxy/), the benchmark into Galaxy and `npm run galaxy`.
#
#   scripts/real-galaxy.sh start DIR [PORT]   install (or reuse) Galaxy, start it with
#       library_import_dir = DIR/import, create an admin and a non-admin user with keys, and
#       print the variables the tests read:
#         GALAXY_IMPORTD_TEST_GALAXY_URL=http://127.0.0.1:PORT
#         GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY=...
#         GALAXY_IMPORTD_TEST_GALAXY_USER_KEY=...      (a user who is not an admin)
#         GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR=DIR/import
#         GALAXY_IMPORTD_TEST_GALAXY_DIR=DIR
#         GALAXY_IMPORTD_TEST_GALAXY_VERSION=26.1.2
#   scripts/real-galaxy.sh stop DIR           stop the processes it started and remove DIR
#   scripts/real-galaxy.sh halt DIR           stop Galaxy, keep DIR (the tests' "Galaxy is down")
#   scripts/real-galaxy.sh serve DIR          start the Galaxy of DIR again (the same release) and wait for it
#   scripts/real-galaxy.sh install            only install (or check) the venv
#
#   scripts/real-galaxy.sh start DIR [PORT] --production   a production-shaped Galaxy instead:
#       PostgreSQL, Celery (RabbitMQ), job handlers of their own, all started by Gravity, behind
#       nginx under /galaxy (scripts/galaxy-production/production.sh says how);
#       GALAXY_IMPORTD_TEST_GALAXY_URL is then http://127.0.0.1:PORT/galaxy. halt stops Galaxy and
#       leaves nginx answering (its own 502 page); stop also ends nginx and drops the database.
#       Every start prints GALAXY_IMPORTD_TEST_GALAXY_SHAPE=single or production; DIR/shape
#       keeps it for halt, serve and stop.
#
# GALAXY_VERSION picks the release (default 26.1.2). The venv is cached in
# ${GALAXY_IMPORTD_CACHE:-~/.cache/galaxy-importd}/galaxy-VERSION and reused when a finished
# install of that version is there; without the cache it is installed afresh (about 2 minutes
# here). Progress goes to stderr, the variables to stdout. Python and Galaxy are test tools:
# galaxy-importd never needs them at run time.
set -euo pipefail
# --production may stand anywhere among the arguments of start.
shape=single
args=()
for a in "$@"; do
  if [ "$a" = --production ]; then shape=production; else args+=("$a"); fi
done
set -- "${args[@]}"
cmd=${1:?usage: real-galaxy.sh start|stop|halt|serve DIR [PORT] [--production] | install}
# serve, halt and stop use the shape the directory was started with.
if [ "$cmd" != start ] && [ -n "${2:-}" ] && [ -f "$2/shape" ]; then
  shape=$(cat "$2/shape")
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# serve, halt and stop use the release the directory was started with.
if [ -z "${GALAXY_VERSION:-}" ] && [ -n "${2:-}" ] && [ -f "$2/version" ] && [ "$cmd" != start ]; then
  GALAXY_VERSION=$(cat "$2/version")
fi
version=${GALAXY_VERSION:-26.1.2}
cache=${GALAXY_IMPORTD_CACHE:-${HOME:-/root}/.cache/galaxy-importd}
venv="$cache/galaxy-$version"
python=${PYTHON:-python3}
say() { echo "real-galaxy.sh: $*" >&2; }
# shellcheck source=galaxy-production/production.sh
. "$here/galaxy-production/production.sh"

# pip, quiet, with the machine's "location ignored" warnings filtered out.
pip_q() {
  "$venv/bin/pip" --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2)
}

install() {
  # A finished install of this very release (a mix of releases is no install of it).
  check_version() {
    "$venv/bin/python" -c 'import sys, uvicorn, galaxy.version as v; sys.exit(v.VERSION != sys.argv[1] and f"installed galaxy is {v.VERSION}, not {sys.argv[1]}")' "$version"
  }
  # The marker names the way the venv was made: a venv made by an earlier way is made again.
  local recipe="pins from the release's own metadata or pinned-requirements.txt (4)"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" = "$recipe" ] && check_version 2>/dev/null; then
    say "Galaxy $version: reusing $venv"
    return
  fi
  local t0=$SECONDS
  say "Galaxy $version: installing into $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  pip_q install -q --upgrade pip >/dev/null
  local tmp
  tmp=$(mktemp -d)
  # The metapackage (from 25.0.1 on) pins every dependency exactly (~340 of them). Some pins
  # name a release PyPI no longer serves (galaxy 26.1.2 pins certifi==2026.10.19, replaced there
  # by 2026.10.19.post1), which makes `pip install galaxy` fail outright. So: read the pins from
  # the wheel's metadata, install them, relaxing only a pin that cannot be had (X==V → X==V.*,
  # then X>=V), then install the metapackage itself without its dependencies.
  # Before 25.0.1 there is no metapackage: galaxy-app and galaxy-web-apps leave their
  # dependencies (and each other's releases) unpinned, and today's releases of them do not
  # work (24.2.4 with gxformat2 0.21: "cannot import name 'ImporterGalaxyInterface'"). The pins
  # are the ones galaxy-app ships, galaxy/dependencies/pinned-requirements.txt, and every
  # galaxy-* package is held to the same release.
  local meta=1
  pip_q download -q --no-deps -d "$tmp" "galaxy==$version" >/dev/null 2>&1 || meta=0
  if [ "$meta" = 0 ]; then pip_q download -q --no-deps -d "$tmp" "galaxy-app==$version" >/dev/null; fi
  local wheel
  wheel=$(ls "$tmp"/galaxy*-"$version"-*.whl 2>/dev/null | head -n 1 || true)
  [ -n "$wheel" ] || { say "no galaxy or galaxy-app $version on the package index"; exit 1; }
  "$venv/bin/python" - "$wheel" "$tmp/requirements.txt" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    pinned = 'galaxy/dependencies/pinned-requirements.txt'
    if wheel.rsplit('/', 1)[-1].startswith('galaxy_app-'):
        lines = z.read(pinned).decode().splitlines()
        # A pin of a git URL (24.2: isa-rwval from GitHub) cannot be fetched from PyPI alone: left out.
        reqs = [l.split('#')[0].strip() for l in lines if l.strip() and not l.startswith(('#', '-')) and ' @ ' not in l]
    else:
        meta = next(n for n in names if n.endswith('.dist-info/METADATA'))
        lines = z.read(meta).decode().splitlines()
        reqs = [l[len('Requires-Dist: '):] for l in lines if l.startswith('Requires-Dist: ') and 'extra ==' not in l]
if not reqs:
    sys.exit(f'{wheel}: lists no requirements (a broken release): pick another GALAXY_VERSION')
open(out, 'w').write('\n'.join(reqs) + '\n')
# The pins name fastapi-slim; galaxy-web-apps asks for fastapi, which would bring today's
# release (24.2.4, and 25.0.4's metapackage too: "cannot import name 'GenerateJsonSchema'
# from 'fastapi._compat'"): fastapi is held to fastapi-slim's release.
slim = [r.split(';')[0].strip().replace('-slim==', '==') for r in reqs if '-slim==' in r.split(';')[0]]
open(out + '.slim', 'w').write('\n'.join(slim) + ('\n' if slim else ''))
PY
  : >"$tmp/constraints.txt"
  if [ "$meta" = 0 ]; then
    local p
    for p in app auth config data files job-execution job-metrics navigation objectstore schema \
      tool-util tours util web-apps web-framework web-stack; do
      echo "galaxy-$p==$version"
    done >"$tmp/constraints.txt"
    printf 'galaxy-app==%s\ngalaxy-web-apps==%s\n' "$version" "$version" >>"$tmp/requirements.txt"
  fi
  cat "$tmp/requirements.txt.slim" >>"$tmp/constraints.txt"
  local n
  for n in 1 2 3 4 5 6 7 8; do
    if pip_q install -q -c "$tmp/constraints.txt" -r "$tmp/requirements.txt" 2>"$tmp/pip.err"; then break; fi
    local bad
    bad=$(sed -n 's/.*No matching distribution found for \([A-Za-z0-9_.-]*\)==\([^ ;]*\).*/\1 \2/p' "$tmp/pip.err" | head -n 1)
    if [ -z "$bad" ] || [ "$n" = 8 ]; then
      cat "$tmp/pip.err" >&2
      say "installing Galaxy $version's dependencies failed (above)"
      exit 1
    fi
    set -- $bad
    if grep -q "^$1==$2\.\*" "$tmp/requirements.txt"; then
      say "no release $1 $2.* on the index: asking for $1>=$2"
      sed -i "s/^$1==$2\.\*/$1>=$2/" "$tmp/requirements.txt"
    else
      say "the pin $1==$2 is not on the index: asking for $1==$2.*"
      sed -i "s/^$1==$2\b/$1==$2.*/" "$tmp/requirements.txt"
    fi
  done
  if [ "$meta" = 1 ]; then pip_q install -q --no-deps "galaxy==$version"; fi
  rm -rf "$tmp"
  check_version
  echo "$recipe" >"$venv/.installed"
  say "Galaxy $version installed in $((SECONDS - t0)) s"
}

write_config() {
  local dir=$1 port=$2
  mkdir -p "$dir/import" "$dir/data/files" "$dir/data/tmp" "$dir/data/jobs" "$dir/config"
  local bootstrap
  bootstrap=$("$python" -c 'import secrets; print(secrets.token_hex(16))')
  echo "$bootstrap" >"$dir/bootstrap_key"
  echo "$port" >"$dir/port"
  # Only the upload tool (upload1), which the legacy library uploads (upload_directory,
  # upload_paths) run; without it they answer 500. The fetch API's __DATA_FETCH__ is built in.
  local bundled
  bundled=$("$venv/bin/python" -c 'import os, galaxy.tools; print(os.path.join(os.path.dirname(galaxy.tools.__file__), "bundled"))' 2>/dev/null)
  printf '%s\n' '<?xml version="1.0"?>' "<toolbox monitor=\"false\" tool_path=\"$bundled\">" \
    '  <tool file="data_source/upload.xml" />' '</toolbox>' >"$dir/config/tool_conf.xml"
  # The genome builds (dbkeys) this Galaxy knows: the legacy library upload refuses any other
  # ("an invalid option ('hg19') was selected (valid options: ?)"); the fetch API does not check.
  printf '?\tunspecified (?)\nhg19\tHuman Feb. 2009 (GRCh37/hg19) (hg19)\nhg38\tHuman Dec. 2013 (GRCh38/hg38) (hg38)\nmm10\tMouse Dec. 2011 (GRCm38/mm10) (mm10)\n' >"$dir/config/builds.txt"
  cat >"$dir/galaxy.yml" <<YML
# Written by scripts/real-galaxy.sh: a throwaway Galaxy for galaxy-importd's tests.
galaxy:
  database_connection: "sqlite:///$dir/data/galaxy.sqlite?isolation_level=IMMEDIATE"
  database_auto_migrate: true
  data_dir: "$dir/data"
  file_path: "$dir/data/files"
  new_file_path: "$dir/data/tmp"
  job_working_directory: "$dir/data/jobs"
  tool_config_file: "$dir/config/tool_conf.xml"
  builds_file_path: "$dir/config/builds.txt"
  library_import_dir: "$dir/import"
  allow_path_paste: true
  # importer@example.org: a second admin, made by the suite (scenario m: its default permissions made
  # private and its key rotated, leaving admin@example.org as the other scenarios need it).
  admin_users: "admin@example.org,importer@example.org"
  id_secret: "$("$python" -c 'import secrets; print(secrets.token_hex(24))')"
  bootstrap_admin_api_key: "$bootstrap"
  conda_auto_init: false
  conda_auto_install: false
  enable_celery_tasks: false
  use_heartbeat: false
  # Nothing outside this machine is reachable: no container resolution (it downloads involucro).
  enable_mulled_containers: false
  involucro_auto_init: false
  # As Galaxy's own test driver: jobs are picked up and finished without a second's wait.
  job_handler_monitor_sleep: 0.2
  job_runner_monitor_sleep: 0.2
  check_upload_content: true
  # galaxy-importd's [folder:NAME] notify sends Galaxy notifications (23.1 and later).
  enable_notification_system: true
  log_level: INFO
YML
}

serve() {
  local dir=$1
  local port
  port=$(cat "$dir/port")
  local t0=$SECONDS
  (
    export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" GALAXY_CONFIG_FILE="$dir/galaxy.yml"
    unset PYTHONPATH PYTHONHOME
    cd "$dir"
    exec setsid "$venv/bin/galaxy-web" --bind "127.0.0.1:$port" >>"$dir/galaxy.log" 2>&1 </dev/null
  ) &
  echo $! >"$dir/galaxy.pid"
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url/api/version" 2>/dev/null; then
      say "Galaxy answers on $url after $((SECONDS - t0)) s"
      return
    fi
    if ! kill -0 "$(cat "$dir/galaxy.pid")" 2>/dev/null; then
      tail -n 40 "$dir/galaxy.log" >&2
      say "Galaxy exited while starting (log above: $dir/galaxy.log)"
      exit 1
    fi
    sleep 1
  done
  tail -n 40 "$dir/galaxy.log" >&2
  say "Galaxy did not answer on $url within 600 s"
  exit 1
}

halt() {
  local dir=$1
  [ -f "$dir/galaxy.pid" ] || return 0
  local pid
  pid=$(cat "$dir/galaxy.pid")
  # setsid made galaxy-web the leader of its own process group: end the group (jobs included).
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/galaxy.pid"
}

# POST JSON with a key; prints the answer, fails on an HTTP error.
post() {
  local key=$1 path=$2 body=$3
  curl -fsS -X POST -H "x-api-key: $key" -H 'content-type: application/json' -d "$body" "$url$path"
}

make_user() {
  local email=$1 username=$2
  local id
  id=$(post "$bootstrap" /api/users "{\"email\": \"$email\", \"username\": \"$username\", \"password\": \"importd-test-password\"}" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  post "$bootstrap" "/api/users/$id/api_key" '{}' | "$python" -c 'import json, sys; print(json.load(sys.stdin))'
}

case $cmd in
install)
  install
  ;;
start)
  dir=${2:?usage: real-galaxy.sh start DIR [PORT]}
  port=${3:-}
  if [ -z "$port" ]; then
    port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  command -v curl >/dev/null || { say "needs curl (apt-get install curl)"; exit 1; }
  if [ "$shape" = production ]; then prod_check_tools; fi
  install
  if [ "$shape" = production ]; then prod_install_extras; fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  write_config "$dir" "$port"
  echo "$version" >"$dir/version"
  echo "$shape" >"$dir/shape"
  if [ "$shape" = production ]; then
    prod_write_config "$dir" "$port"
    prod_serve "$dir"
    url="http://127.0.0.1:$port/galaxy"
  else
    serve "$dir"
    url="http://127.0.0.1:$port"
  fi
  bootstrap=$(cat "$dir/bootstrap_key")
  admin_key=$(make_user admin@example.org admin)
  user_key=$(make_user user@example.org user)
  echo "GALAXY_IMPORTD_TEST_GALAXY_URL=$url"
  echo "GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY=$admin_key"
  echo "GALAXY_IMPORTD_TEST_GALAXY_USER_KEY=$user_key"
  echo "GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR=$dir/import"
  echo "GALAXY_IMPORTD_TEST_GALAXY_DIR=$dir"
  echo "GALAXY_IMPORTD_TEST_GALAXY_VERSION=$version"
  echo "GALAXY_IMPORTD_TEST_GALAXY_SHAPE=$shape"
  ;;
serve)
  dir=${2:?usage: real-galaxy.sh serve DIR}
  if [ "$shape" = production ]; then prod_serve "$dir"; else serve "$dir"; fi
  ;;
halt)
  dir=${2:?usage: real-galaxy.sh halt DIR}
  if [ "$shape" = production ]; then prod_halt "$dir"; else halt "$dir"; fi
  ;;
stop)
  dir=${2:?usage: real-galaxy.sh stop DIR}
  if [ "$shape" = production ]; then prod_stop "$dir"; else halt "$dir"; fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: real-galaxy.sh start|stop|halt|serve DIR [PORT] [--production] | install" >&2
  exit 2
  ;;
esac
