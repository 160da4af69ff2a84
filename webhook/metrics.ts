/**
 * The receiver's Prometheus metrics (prom-client), served at `GET /metrics` on their own port (`RUNBOOK_METRICS_ADDRESS`),
 * apart from the port PagerDuty and Slack reach. Labels are bounded: routes, status codes, reasons and channels, never
 * an incident, a user or a path someone sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the receiver counts. */
export class ReceiverMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'runbook_receiver_requests_total',
    help: 'Requests answered, by route and HTTP status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'runbook_receiver_request_duration_seconds',
    help: 'Time from request to answer, by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'runbook_receiver_deliveries_total',
    help: 'PagerDuty webhook deliveries by what came of them (accepted, duplicate, ignored, signalled, refused, busy, failed).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly verificationFailures = new Counter({
    name: 'runbook_receiver_verification_failures_total',
    help: 'Requests refused as not authentic, by source (pagerduty, slack) and reason.',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'runbook_receiver_decisions_total',
    help: 'Decisions forwarded to runs, by channel (pagerduty, slack) and outcome (accepted, refused, failed).',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'runbook_receiver_deliveries_in_flight',
    help: 'Webhook deliveries being answered now.',
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}

/** A route label from a request path: one of the receiver's routes, else `other`. */
export function routeLabel(pathname: string, routes: readonly string[]): string {
  return routes.includes(pathname) ? pathname : 'other';
}

/** Serves `GET /metrics` (and nothing else) at `address` (`host:port`). */
export async function serveMetrics(
  metrics: ReceiverMetrics,
  address: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
