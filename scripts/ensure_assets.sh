#!/usr/bin/env bash
# Install the front-end packages pinned in package-lock.json and copy what the pages use to the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
dest=services/gateway/src/cdrstats_gateway/static/vendor
mkdir -p "$dest"
cp node_modules/echarts/dist/echarts.min.js "$dest/"
cp node_modules/topojson-client/dist/topojson-client.min.js "$dest/"
cp node_modules/world-atlas/countries-110m.json "$dest/"
