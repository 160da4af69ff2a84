/**
 * `POST /slack/interactions`: the approve and reject buttons of the run's Slack message. Slack's signature and
 * timestamp over the raw body first, then the payload; the Slack user becomes an email through `users.info`, and the
 * decision goes to the run signed as the Slack gateway, `via: "slack"`. The run decides (approvers, plan id, proof)
 * and records a refusal as any other; the clicker hears the outcome ephemerally. Slack wants its answer within 3 s:
 * it gets an empty 200 by then, and a decision still on its way answers ephemerally when it lands.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { gatewaySigner } from '../activities/identity/gateway.js';
import { SLACK_ACTIONS, type SlackButtonValue } from '../activities/slack/index.js';
import { DecisionRefusedError, NoWorkerError, sendDecision } from '../client/index.js';
import { workflowIdFor, type Decision } from '../workflows/definitions.js';
import { readBodyCapped } from './body.js';
import { slackRequestProblem } from './slack-signature.js';
import type { ReceiverMetrics } from './metrics.js';

/** What the Slack route needs; built from `SLACK_SIGNING_SECRET` and `SLACK_BOT_TOKEN`. */
export interface SlackInteractionDeps {
  signingSecrets: readonly string[];
  /** `users.info` (needs `users:read` and `users:read.email`) and `chat.postEphemeral` (`chat:write`). */
  slack: Pick<WebClient, 'users' | 'chat'>;
  client: Client;
  gatewaySecret?: string;
  logger: Logger;
  decisionTimeoutMs?: number;
  /** How long the answer waits for the decision before Slack gets its 200 anyway. Default 2.5 s. */
  ackWithinMs?: number;
  maxBodyBytes?: number;
  nowSeconds?: () => number;
  metrics?: ReceiverMetrics;
}

const buttonValueSchema = z.object({
  incidentId: z.string().min(1).max(200),
  planId: z.string().min(1).max(200),
  actions: z.array(z.string().min(1).max(200)).max(50),
});

const interactionSchema = z.object({
  type: z.string(),
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string().min(1) }).optional(),
  container: z.object({ channel_id: z.string().optional() }).optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).default([]),
});

/** One click, read from a verified payload. */
interface Click {
  userId: string;
  channelId: string;
  decision: Decision['decision'];
  value: SlackButtonValue;
}

function answer(status: number, body?: object): Response {
  return new Response(body ? JSON.stringify(body) : null, {
    status,
    headers: body ? { 'content-type': 'application/json' } : {},
  });
}

/** The click in a payload, or why there is nothing to decide. */
function readClick(body: Uint8Array): Click | string {
  let raw: unknown;
  try {
    raw = JSON.parse(new URLSearchParams(new TextDecoder().decode(body)).get('payload') ?? '');
  } catch {
    return 'no JSON payload';
  }
  const p = interactionSchema.safeParse(raw);
  if (!p.success) return 'not an interaction payload';
  if (p.data.type !== 'block_actions') return `ignored ${p.data.type}`;
  const action = p.data.actions.find(
    (a) => a.action_id === SLACK_ACTIONS.approve || a.action_id === SLACK_ACTIONS.reject,
  );
  if (!action) return 'no decision button';
  let value: unknown;
  try {
    value = JSON.parse(action.value ?? '');
  } catch {
    return 'malformed button value';
  }
  const v = buttonValueSchema.safeParse(value);
  const channelId = p.data.channel?.id ?? p.data.container?.channel_id;
  if (!v.success || !channelId) return 'malformed button value';
  return {
    userId: p.data.user.id,
    channelId,
    decision: action.action_id === SLACK_ACTIONS.approve ? 'approve' : 'reject',
    value: v.data,
  };
}

/** Builds the route's handler. */
export function createSlackInteractions(deps: SlackInteractionDeps): (request: Request) => Promise<Response> {
  const log = deps.logger;
  const now = deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000));

  async function emailOf(userId: string): Promise<string | undefined> {
    const info = await deps.slack.users.info({ user: userId });
    const user = info.user;
    if (!user || user.deleted || user.is_bot) return undefined;
    return user.profile?.email?.trim().toLowerCase() || undefined;
  }

  /** Decides, and returns what the clicker is told. */
  async function decide(click: Click): Promise<string> {
    const { incidentId, planId, actions } = click.value;
    let email: string | undefined;
    try {
      email = await emailOf(click.userId);
    } catch (err) {
      log.warn({ incidentId, err: err instanceof Error ? err.message : String(err) }, 'Slack user lookup failed');
      return 'Could not look you up in Slack: nothing was decided. Try again in a moment.';
    }
    if (!email) return 'Your Slack profile shows no email (or the app lacks users:read.email): nothing was decided.';
    const decision: Decision = {
      decision: click.decision,
      by: email,
      planId,
      ...(click.decision === 'approve' ? { actions } : { reason: 'rejected in Slack' }),
      via: 'slack',
    };
    const what = click.decision === 'approve' ? `Approval of plan ${planId}` : `Rejection of plan ${planId}`;
    try {
      const handle = deps.client.workflow.getHandle(workflowIdFor(incidentId));
      await sendDecision(
        deps.client,
        handle,
        decision,
        deps.decisionTimeoutMs ?? 20_000,
        deps.gatewaySecret ? { sign: gatewaySigner(deps.gatewaySecret, 'slack') } : {},
      );
      log.info({ incidentId, by: email, decision: click.decision }, 'decision taken');
      deps.metrics?.decisions.inc({ channel: 'slack', outcome: 'accepted' });
      return `${what} taken, as ${email}.`;
    } catch (err) {
      const refusal =
        err instanceof DecisionRefusedError
          ? err.refusal
          : err instanceof WorkflowNotFoundError
            ? 'no run for this incident'
            : err instanceof NoWorkerError
              ? err.message
              : undefined;
      if (refusal === undefined) throw err;
      const outcome = err instanceof NoWorkerError ? 'failed' : 'refused';
      deps.metrics?.decisions.inc({ channel: 'slack', outcome });
      log.warn({ incidentId, by: email, refusal }, 'decision refused');
      return `${what} refused: ${refusal}`;
    }
  }

  async function tell(click: Click, text: string): Promise<void> {
    try {
      await deps.slack.chat.postEphemeral({ channel: click.channelId, user: click.userId, text });
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not answer in Slack');
    }
  }

  return async function onInteraction(request: Request): Promise<Response> {
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      return answer(415, { error: 'expected Content-Type: application/x-www-form-urlencoded' });
    const body = await readBodyCapped(request, deps.maxBodyBytes ?? 64 * 1024);
    if (!body) return answer(413, { error: 'body too large' });
    const problem = slackRequestProblem(
      body,
      {
        signature: request.headers.get('x-slack-signature'),
        timestamp: request.headers.get('x-slack-request-timestamp'),
      },
      deps.signingSecrets,
      now(),
    );
    if (problem) {
      log.warn({ reason: problem }, 'request refused');
      deps.metrics?.verificationFailures.inc({ source: 'slack', reason: problem });
      return answer(401, { error: 'invalid or missing Slack signature' });
    }
    const click = readClick(body);
    if (typeof click === 'string') {
      log.info({ reason: click }, 'Slack interaction ignored');
      return answer(200);
    }
    const told = decide(click)
      .catch((err: unknown) => {
        log.error({ err }, 'Slack decision failed');
        deps.metrics?.decisions.inc({ channel: 'slack', outcome: 'failed' });
        return 'Something went wrong before the run answered: look at the run in the Temporal UI before trying again.';
      })
      .then((text) => tell(click, text));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([told, new Promise((resolve) => (timer = setTimeout(resolve, deps.ackWithinMs ?? 2500)))]);
    clearTimeout(timer);
    return answer(200);
  };
}
