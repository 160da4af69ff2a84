# The runbook image: `docker run redis-runbook worker`, or any other `runbook` subcommand.
#
# Node 22, not 20: @kubernetes/client-node 2.x depends on undici 8, which needs Node >= 22.19 (on Node 20 the
# Kubernetes client fails as it loads, so the worker cannot start).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker"]
