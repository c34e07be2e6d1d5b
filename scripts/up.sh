#!/usr/bin/env bash
# `npm run up`: dependencies, local services, composition, then the router,
# every subgraph and every worker in the foreground; a process that crashes is
# restarted with back-off; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services/services.sh start
npm run -s compose
exec npx tsx scripts/up.ts
