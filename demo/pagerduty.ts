/**
 * PagerDuty for the demo: the local REST stand-in (which validates every request against PagerDuty's OpenAPI
 * document) and the real receiver (`createWebhookFromEnv` behind the Node server), so a run starts the way PagerDuty
 * starts it: a signed `incident.triggered` delivery.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../local-servers/pagerduty/standin.js';
import { createWebhookFromEnv, type WebhookFromEnv } from '../webhook/from-env.js';
import { serveWebhook, type WebhookServer } from '../webhook/node-server.js';
import { signatureHeader } from '../webhook/signature.js';
import { DEMO_CONFIG, DEMO_TARGET, type LocalStack } from './stack.js';

/** The PagerDuty service whose incidents are routed to the demo's Redis. */
export const DEMO_SERVICE = 'PREDIS1';

export interface DemoPagerDuty {
  standIn: PagerDutyStandIn;
  /**
   * Environment the worker needs for the stack's Redis: a `RUNBOOK_CONFIG` routing the demo's service to it (the
   * worker's intake routes incidents), and what it writes back to the stand-in with (token, From, API URL).
   */
  workerEnv: (redis: { host: string; port: number }) => Promise<Record<string, string>>;
  /** Starts the receiver for `stack`, with the same configuration as the worker. */
  startReceiver(stack: LocalStack): Promise<string>;
  /** Delivers a signed `incident.triggered`, as PagerDuty would; the receiver's JSON answer. */
  trigger(
    incidentId: string,
    title: string,
  ): Promise<{ status: string; workflowId?: string; intakeWorkflowId?: string }>;
  stop(): Promise<void>;
}

export async function startDemoPagerDuty(): Promise<DemoPagerDuty> {
  const dir = await mkdtemp(join(tmpdir(), 'runbook-demo-pd-'));
  const secret = randomBytes(24).toString('hex');
  const standIn = await startPagerDutyStandIn();
  standIn.addUser({ id: 'PONCALL', email: 'oncall@example.com', name: 'On Call' });
  const config = join(dir, 'runbook.yaml');
  const pagerdutyEnv = {
    PAGERDUTY_API_TOKEN: standIn.token,
    PAGERDUTY_FROM_EMAIL: 'runbook-bot@example.com',
    PAGERDUTY_API_URL: standIn.url,
  };
  let receiver: WebhookFromEnv | undefined;
  let server: WebhookServer | undefined;

  return {
    standIn,
    workerEnv: async (redis) => {
      const demo = parse(await readFile(DEMO_CONFIG, 'utf8')) as { pagerduty?: object };
      const route = {
        id: DEMO_SERVICE,
        name: 'redis-cache',
        namespace: DEMO_TARGET.namespace,
        redis: { host: redis.host, port: redis.port },
      };
      await writeFile(config, stringify({ ...demo, pagerduty: { ...demo.pagerduty, services: [route] } }));
      return { ...pagerdutyEnv, RUNBOOK_CONFIG: config };
    },
    async startReceiver(stack) {
      receiver = await createWebhookFromEnv(
        { ...stack.env, ...pagerdutyEnv, RUNBOOK_CONFIG: config, PAGERDUTY_WEBHOOK_SECRET: secret },
        { logger: pino({ level: 'warn' }) },
      );
      server = await serveWebhook(receiver.handle, { port: 0, host: '127.0.0.1' });
      return server.url;
    },
    async trigger(incidentId, title) {
      if (!server) throw new Error('start the receiver first');
      standIn.addIncident({ id: incidentId, title, serviceId: DEMO_SERVICE, alerts: [{ ...DEMO_TARGET }] });
      const body = JSON.stringify({
        event: {
          id: `01DEMO${incidentId}`,
          event_type: 'incident.triggered',
          resource_type: 'incident',
          occurred_at: new Date().toISOString(),
          agent: { id: DEMO_SERVICE, type: 'service_reference', summary: 'redis-cache' },
          data: {
            id: incidentId,
            type: 'incident',
            html_url: `https://example.pagerduty.com/incidents/${incidentId}`,
            status: 'triggered',
            title,
            service: { id: DEMO_SERVICE, type: 'service_reference', summary: 'redis-cache' },
          },
        },
      });
      const res = await fetch(`${server.url}/pagerduty/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-pagerduty-signature': signatureHeader(body, secret) },
        body,
      });
      const answer = (await res.json()) as { status: string; workflowId?: string; intakeWorkflowId?: string };
      if (res.status !== 202) throw new Error(`the receiver answered ${res.status}: ${JSON.stringify(answer)}`);
      return answer;
    },
    async stop() {
      await server?.close();
      await receiver?.close();
      await standIn.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
