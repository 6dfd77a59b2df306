#!/bin/sh
# Container entrypoint: the first argument names the process to run.
#   ingest-api | ingest-worker | reporting-api | reporting-worker | alerting-api |
#   alerting-worker | notify-api | notify-worker | gateway
# Anything else is executed as given (e.g. `sh`, `python -m cdrstats_common.healthcheck ...`).
# Extra arguments after a process name are passed on to it.
set -eu

PYTHON="${CDRSTATS_PYTHON:-/opt/venv/bin/python}"

if [ "$#" -eq 0 ]; then
    echo "usage: entrypoint.sh <ingest|reporting|alerting|notify>-<api|worker> | gateway | COMMAND..." >&2
    exit 64
fi

process="$1"
case "$process" in
    ingest-api|ingest-worker|reporting-api|reporting-worker|alerting-api|alerting-worker|notify-api|notify-worker)
        shift
        service="${process%-*}"   # ingest
        role="${process##*-}"     # api | worker
        exec "$PYTHON" -m "cdrstats_${service}.${role}" "$@"
        ;;
    gateway)
        shift
        exec "$PYTHON" -m cdrstats_gateway "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
