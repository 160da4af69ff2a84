import type { Logger } from 'pino';
import { createWebhookFromEnv } from '../../webhook/from-env.js';
import { serveWebhook, type WebhookServer } from '../../webhook/node-server.js';
import { serveMetrics } from '../../webhook/metrics.js';

/** Options of `runbook webhook`. */
export interface WebhookOptions {
  env: NodeJS.ProcessEnv;
  /** `--port`; else `PORT`; else 8080. 0 picks a free port. */
  port?: number;
  /** `--host`; else `HOST`; else 127.0.0.1 (the container image sets `HOST=0.0.0.0`). */
  host?: string;
  logger?: Logger;
  /** Called once it listens, with the server (tests stop it through `close`). */
  onListening?: (server: WebhookServer) => void;
}

/** The port `runbook webhook` listens on: `--port`, else `PORT`, else 8080. */
export function webhookPort(port: number | undefined, env: NodeJS.ProcessEnv): number {
  if (port !== undefined) return port;
  const fromEnv = env.PORT?.trim();
  if (fromEnv && /^\d+$/.test(fromEnv) && Number(fromEnv) < 65536) return Number(fromEnv);
  return 8080;
}

/**
 * `runbook webhook`: serves `POST /pagerduty/webhook`, `POST /pagerduty/action`, `POST /slack/interactions` and
 * `GET /healthz` until SIGINT/SIGTERM (or until the server given to `onListening` is closed); with
 * `RUNBOOK_METRICS_ADDRESS`, `GET /metrics` on that address.
 */
export async function webhookCommand(opts: WebhookOptions): Promise<void> {
  const receiver = await createWebhookFromEnv(opts.env, opts.logger ? { logger: opts.logger } : {});
  const metrics = receiver.metricsAddress ? await serveMetrics(receiver.metrics, receiver.metricsAddress) : undefined;
  if (metrics) receiver.logger.info({ url: metrics.url }, 'metrics served');
  try {
    const host = opts.host ?? (opts.env.HOST?.trim() || '127.0.0.1');
    const server = await serveWebhook(receiver.handle, {
      port: webhookPort(opts.port, opts.env),
      host,
      logger: receiver.logger,
    });
    receiver.logger.info({ host, port: server.port }, 'receiver listening');
    const closed = new Promise<void>((resolve) => server.server.once('close', () => resolve()));
    const stop = () => void server.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    opts.onListening?.(server);
    await closed;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  } finally {
    await metrics?.close();
    await receiver.close();
  }
}
