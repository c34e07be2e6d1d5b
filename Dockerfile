# syntax=docker/dockerfile:1
# One image for every Arcadia process: the router, each subgraph and each
# worker run their compiled entry point from it (docker-compose.yml picks it):
#
#   docker build -t arcadia .
#   docker run --rm -e PORT=4000 arcadia                                  # the router
#   docker run --rm -e PORT=4001 arcadia node subgraphs/accounts/dist/index.js
#
# Stages: `manifests` keeps only the package.json files and the lockfile, so
# the two installs below stay cached while only sources change; `build`
# installs everything and compiles (`npm run build`, tsc project references);
# `prod-deps` installs production dependencies only; `runtime` is those plus
# the compiled dist/ folders and the files the code reads at run time.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
  && find . -depth -type d -empty -delete

FROM ${NODE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --no-audit --no-fund
COPY . .
# Gathers what production runs into /runtime, per workspace: the compiled
# dist/ and the assets read next to it through import.meta.url (the
# subgraph's schema.graphql, the lua/ scripts), plus the composed supergraph.
RUN npm run build \
  && mkdir /runtime \
  && for ws in packages/* subgraphs/* router workers/*; do \
    if [[ ! -d $ws/dist ]]; then continue; fi; \
    cp -r --parents "$ws/dist" /runtime/; \
    for asset in schema.graphql lua; do \
      if [[ -e $ws/$asset ]]; then cp -r --parents "$ws/$asset" /runtime/; fi; \
    done; \
  done \
  && cp --parents schema/supergraph.graphql /runtime/ \
  && find /runtime -name '.tsbuildinfo' -delete

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# `compiled`: each workspace's package.json exports point there at dist/*.js
# (the default condition is the TypeScript source, for development and tests).
ENV NODE_ENV=production \
  NODE_OPTIONS=--conditions=compiled \
  ARCADIA_HOME=/arcadia
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=build /runtime ./
RUN mkdir -p /arcadia && chown node:node /arcadia
USER node
# Every process serves /health on its PORT; node's own fetch, as the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
EXPOSE 4000
CMD ["node", "router/dist/main.js"]
