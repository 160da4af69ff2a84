# The runbook image: `docker run redis-runbook worker`, or any other `runbook` subcommand.
#
# Node 20, like CI; package.json pins undici 7 because the Kubernetes client's undici 8 needs Node >= 22.19.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
# The receiver listens on every interface in a container (the CLI's default is loopback).
ENV HOST=0.0.0.0
WORKDIR /app
# redis-server for the restore test of each backup copy (Debian's, the major version of most Redis in production).
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The backup store's mount point, owned by the user the worker runs as (a fresh named volume takes this ownership).
RUN mkdir -p /var/lib/redis-runbook/backups && chown node:node /var/lib/redis-runbook/backups
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker"]
