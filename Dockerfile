# One image for every Arcadia process; docker-compose.yml picks the entry point.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY packages ./packages
COPY subgraphs ./subgraphs
COPY router ./router
COPY workers ./workers
COPY schema ./schema
# tsx runs the TypeScript sources directly: no separate build output to drift.
RUN npm ci --no-audit --no-fund --include=dev && npm cache clean --force
RUN mkdir -p /arcadia && chown node:node /arcadia
USER node
CMD ["node", "--import", "tsx", "router/src/main.ts"]
