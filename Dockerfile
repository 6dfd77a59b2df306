# syntax=docker/dockerfile:1
# CDR-Stats: one image for every process (ingest/reporting/alerting/notify api+worker, gateway).
# The first argument picks the process, see deploy/docker/entrypoint.sh.
#
#   docker build -t cdr-stats:local .
#   docker run --rm cdr-stats:local ingest-api
#
# The venv is built exactly as `make run` builds it (`make venv protos`), at /opt/venv, without
# the test and lint tools (REQUIREMENTS=requirements/runtime.txt instead of requirements/dev.txt),
# and copied with the source tree to the same paths in the runtime stage (the
# editable installs and the generated-code .pth file point at /app/...).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- front-end packages (echarts, maps, ...) from package-lock.json -----------------
# scripts/ensure_assets.sh (what `make assets` runs) copies the files the pages use to
# the gateway's static/vendor directory; node_modules itself is not shipped.
FROM ${NODE_IMAGE} AS npm
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/ensure_assets.sh scripts/ensure_assets.sh
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && bash scripts/ensure_assets.sh

# --- Python venv and generated protobuf code ---------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV VENV=/opt/venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
COPY proto/ proto/
COPY libs/ libs/
COPY services/ services/
COPY scripts/ scripts/
COPY Makefile ./
RUN make venv protos VENV=/opt/venv REQUIREMENTS=requirements/runtime.txt \
    && find /app/libs /app/services -name __pycache__ -prune -exec rm -rf {} +
COPY --from=npm /src/services/gateway/src/cdrstats_gateway/static/vendor/ \
     services/gateway/src/cdrstats_gateway/static/vendor/

# --- runtime ------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    CDRSTATS_DATA_DIR=/app/var \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 cdrstats \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin cdrstats \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var
WORKDIR /app
# Code and venv stay owned by root (read-only for the service user); only var/ is writable
# (SQLite stores when no CDRSTATS_<SERVICE>_STORE_URL points at MongoDB).
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app/build /app/build
COPY --from=builder /app/libs /app/libs
COPY --from=builder /app/services /app/services
COPY --chmod=0755 deploy/docker/entrypoint.sh /app/deploy/docker/entrypoint.sh
USER 10001:10001
# gateway 8080, ingest HTTP receivers 8081, admin (/metrics, /healthz) 9090, gRPC 50051
EXPOSE 8080 8081 9090 50051
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["gateway"]
