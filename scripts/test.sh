#!/usr/bin/env bash
# `npm test`: dependencies, local services, Chromium (browser tests), a composition
# check, then every test.
# Extra arguments go to vitest (e.g. `npm test -- subgraphs/accounts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services/services.sh start
bash scripts/ensure-chromium.sh
npm run -s compose -- --check
echo "› tests on Node.js $(node --version)"
exec npx vitest run "$@"
