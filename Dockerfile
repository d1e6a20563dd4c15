# galaxy-importd as a sidecar container next to Galaxy.
#
#   docker build -t galaxy-importd --build-arg GALAXY_UID=$(id -u galaxy) --build-arg GALAXY_GID=$(id -g galaxy) .
#
# Behind a proxy that intercepts TLS, give the npm installs its CA as the build secret `ca`
# (--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt): it is mounted for those RUNs only,
# never stored in a layer. Without Docker Hub, scripts/images.sh makes NODE_IMAGE from Debian's
# and npm's packages and builds this file on it.
# The container runs as a user with Galaxy's uid/gid, so it reads the files Galaxy reads.
# Mount the config at /etc/galaxy-importd/galaxy-importd.ini, the import directory at the
# same path Galaxy sees it, the key as the secret galaxy-api-key, and keep
# /var/lib/galaxy-importd (the ledger) on a volume. docs/operations.md, "Docker", has the rest;
# docs/docker-compose.example.yml is a whole setup.

ARG NODE_IMAGE=node:24-bookworm-slim

# Tools to build better-sqlite3's native addon from source when no prebuilt binary is reachable,
# against the headers of the image's own Node (in /usr/local/include/node in the official images
# and in scripts/images.sh's), so that node-gyp does not download them.
FROM ${NODE_IMAGE} AS toolchain
ARG NODEDIR=/usr/local
ENV npm_config_nodedir=${NODEDIR}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json ./

# Compile the TypeScript with the dev dependencies.
FROM toolchain AS build
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# The production dependencies only: what the runtime image carries, pruned from the build's
# node_modules (better-sqlite3 is compiled once, by the build's npm ci). The runtime image's
# `galaxy-importd --version` below and CI's sidecar test fail if a runtime dependency is missing.
FROM build AS deps
RUN npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ARG GALAXY_UID=1450
ARG GALAXY_GID=1450
# -o: Galaxy's uid/gid may already be taken in the base image (node is 1000).
RUN groupadd -o --gid "${GALAXY_GID}" galaxy \
 && useradd -o --uid "${GALAXY_UID}" --gid "${GALAXY_GID}" --no-create-home \
      --home-dir /var/lib/galaxy-importd --shell /usr/sbin/nologin galaxy \
 && install -d -m 0750 -o galaxy -g galaxy /var/lib/galaxy-importd \
 && install -d -m 0755 /etc/galaxy-importd /usr/share/doc/galaxy-importd
WORKDIR /opt/galaxy-importd
COPY package.json package-lock.json ./
COPY --from=deps /build/node_modules ./node_modules
COPY --from=build /build/dist/src ./dist/src
COPY config/galaxy-importd.ini /usr/share/doc/galaxy-importd/galaxy-importd.ini.example
RUN chmod 0755 dist/src/cli/main.js \
 && ln -s /opt/galaxy-importd/dist/src/cli/main.js /usr/local/bin/galaxy-importd \
 && galaxy-importd --version

ENV NODE_ENV=production
# The key comes from the Docker/compose secret galaxy-api-key (/run/secrets/galaxy-api-key),
# read the way systemd credentials are; $GALAXY_API_KEY or [galaxy] api_key_file also work.
ENV CREDENTIALS_DIRECTORY=/run/secrets
VOLUME ["/var/lib/galaxy-importd"]
USER galaxy
# /healthz, /readyz and /metrics when [http] listen = 0.0.0.0:9187.
EXPOSE 9187
# The daemon handles SIGTERM itself (drains, records, exits 0), also as PID 1.
STOPSIGNAL SIGTERM
# Health is readiness (/readyz): unhealthy while Galaxy is unreachable, refuses the key, or
# uploads are paused, or the ledger cannot be used; `health` without --ready is liveness only.
# Under an orchestrator that restarts unhealthy containers (Swarm, podman
# --health-on-failure=restart), override it with liveness: docs/operations.md, "Docker".
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 \
  CMD ["galaxy-importd", "--config", "/etc/galaxy-importd/galaxy-importd.ini", "health", "--ready"]
ENTRYPOINT ["galaxy-importd", "--config", "/etc/galaxy-importd/galaxy-importd.ini"]
CMD ["run"]
