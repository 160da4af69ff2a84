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
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker"]
