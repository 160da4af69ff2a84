/**
 * A local stand-in for Slack's Web API (`POST /api/<method>`) on a free loopback port, for the methods the runbook
 * calls. Each call is read as Slack reads it (a form with JSON-encoded nested fields, or JSON), validated against
 * `api/slack-web.yaml` (arguments, Block Kit shapes and limits), and its answer against the documented response; a
 * call that does not validate is answered `invalid_arguments` and kept in `violations`, which tests assert empty.
 * It keeps channels' messages with their threads and metadata, ephemeral messages and users, and can be told to
 * answer 429 (with `Retry-After`) or 500 for a while. `click` builds the signed interaction Slack would send the
 * receiver when someone presses a button of a message it holds.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { flatHeaders, readBody, stopServer } from '../http.js';
import type { Operation } from 'openapi-backend';
import { OpenApiDescription, SLACK_WEB_API } from '../openapi.js';
import { slackSignature } from '../../webhook/slack-signature.js';

export interface StandInMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: Array<Record<string, unknown>>;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** How often it was rewritten by `chat.update`. */
  updates: number;
}

export interface StandInSlackUser {
  id: string;
  email?: string;
  deleted?: boolean;
  is_bot?: boolean;
}

/** A signed interaction request, as Slack POSTs it to the app's request URL. */
export interface SignedInteraction {
  body: string;
  headers: Record<string, string>;
}

/** A running stand-in. */
export interface SlackStandIn {
  /** What `SLACK_API_URL` is set to (ends in `/api/`). */
  apiUrl: string;
  /** The bot token it accepts (`SLACK_BOT_TOKEN`). */
  token: string;
  /** The signing secret its interactions are signed with (`SLACK_SIGNING_SECRET`). */
  signingSecret: string;
  /** The channel it knows (`SLACK_CHANNEL`). */
  channel: string;
  messages: StandInMessage[];
  ephemerals: Array<{ channel: string; user: string; text: string }>;
  /** Method names called, in order. */
  calls: string[];
  violations: string[];
  addUser(u: StandInSlackUser): void;
  /** The channel's top-level messages (no thread replies). */
  topLevel(): StandInMessage[];
  replies(ts: string): StandInMessage[];
  /** Answers the next `count` calls (of `method` when given) with `status` instead of serving them. */
  failNext(count: number, status: 429 | 500, opts?: { method?: string; retryAfterSeconds?: number }): void;
  /**
   * The request Slack sends when `userId` presses the button `actionId` of message `ts`; throws if the message has no
   * such button. `at` (seconds) stamps and signs it at another time, to test the replay window.
   */
  click(ts: string, actionId: string, userId: string, opts?: { at?: number; secret?: string }): SignedInteraction;
  assertAllValid(): void;
  stop(): Promise<void>;
}

/** A call's arguments as Slack reads them: JSON, or a form whose nested fields are JSON text. */
function readArguments(contentType: string, raw: string): Record<string, unknown> | undefined {
  if (contentType.startsWith('application/json')) {
    try {
      return JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  if (!contentType.startsWith('application/x-www-form-urlencoded')) return undefined;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (/^[[{]/.test(value)) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // a plain string after all
      }
    }
    // Slack reads a form's scalars by the argument's type: booleans, and the one integer argument the runbook sends.
    args[key] = value === 'true' ? true : value === 'false' ? false : key === 'limit' ? Number(value) : value;
  }
  return args;
}

/** Starts the stand-in on a free port of 127.0.0.1. */
export async function startSlackStandIn(opts: { channel?: string } = {}): Promise<SlackStandIn> {
  const api = await OpenApiDescription.load(SLACK_WEB_API);
  const token = 'xoxb-standin-0000000000-abcdefghijklmnop';
  const signingSecret = 'standin-slack-signing-secret-0123456789';
  const channel = opts.channel ?? 'C0RUNBOOK1';
  const messages: StandInMessage[] = [];
  const ephemerals: SlackStandIn['ephemerals'] = [];
  const users = new Map<string, StandInSlackUser>();
  const calls: string[] = [];
  const violations: string[] = [];
  const faults: Array<{ left: number; status: 429 | 500; method?: string; retryAfterSeconds?: number }> = [];
  let seq = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
  const find = (ts: unknown) => messages.find((m) => m.ts === ts);
  const view = (m: StandInMessage, withMetadata: boolean) => ({
    type: 'message',
    ts: m.ts,
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    text: m.text,
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
  });

  function serve(op: Operation, a: Record<string, unknown>): Record<string, unknown> {
    if ('channel' in a && a.channel !== channel) return { ok: false, error: 'channel_not_found' };
    switch (op.operationId) {
      case 'chatPostMessage': {
        if (a.thread_ts && !find(a.thread_ts)) return { ok: false, error: 'thread_not_found' };
        const m: StandInMessage = { channel, ts: nextTs(), text: a.text as string, updates: 0 };
        if (a.thread_ts) m.thread_ts = a.thread_ts as string;
        if (a.blocks) m.blocks = a.blocks as StandInMessage['blocks'];
        if (a.metadata) m.metadata = a.metadata as StandInMessage['metadata'];
        messages.push(m);
        return { ok: true, channel, ts: m.ts, message: view(m, true) };
      }
      case 'chatUpdate': {
        const m = find(a.ts);
        if (!m) return { ok: false, error: 'message_not_found' };
        m.text = a.text as string;
        if (a.blocks) m.blocks = a.blocks as StandInMessage['blocks'];
        m.updates++;
        return { ok: true, channel, ts: m.ts };
      }
      case 'chatPostEphemeral':
        ephemerals.push({ channel, user: a.user as string, text: a.text as string });
        return { ok: true, message_ts: nextTs() };
      case 'usersInfo': {
        const u = users.get(a.user as string);
        if (!u) return { ok: false, error: 'user_not_found' };
        return {
          ok: true,
          user: {
            id: u.id,
            name: u.id.toLowerCase(),
            deleted: u.deleted ?? false,
            is_bot: u.is_bot ?? false,
            profile: u.email ? { email: u.email } : {},
          },
        };
      }
      case 'conversationsHistory': {
        const oldest = Number(a.oldest ?? 0);
        const list = messages
          .filter((m) => !m.thread_ts && Number(m.ts) >= oldest)
          .reverse()
          .slice(0, Number(a.limit ?? 100));
        return { ok: true, messages: list.map((m) => view(m, a.include_all_metadata === true)), has_more: false };
      }
      case 'conversationsReplies': {
        const parent = find(a.ts);
        if (!parent) return { ok: false, error: 'thread_not_found' };
        const thread = [parent, ...messages.filter((m) => m.thread_ts === parent.ts)];
        return { ok: true, messages: thread.map((m) => view(m, a.include_all_metadata === true)), has_more: false };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const raw = await readBody(req);
      const headers = flatHeaders(req);
      const send = (status: number, body: Record<string, unknown>, extra: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...extra });
        res.end(JSON.stringify(body));
      };
      const method = url.pathname.replace(/^\/api\//, '');
      calls.push(method);
      const args = readArguments(headers['content-type'] ?? '', raw);
      const check = api.checkRequest({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search,
        headers,
        body: raw,
        ...(args ? { parsedBody: args } : {}),
      });
      if (!args) check.errors.push('body: neither a form nor JSON');
      if (check.errors.length > 0 || !check.operation) {
        violations.push(`${method}: ${check.errors.join('; ')}`);
        return send(200, { ok: false, error: 'invalid_arguments', response_metadata: { messages: check.errors } });
      }
      if (headers.authorization !== `Bearer ${token}`) return send(200, { ok: false, error: 'invalid_auth' });
      const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === method));
      if (fault) {
        fault.left--;
        const extra: Record<string, string> = fault.retryAfterSeconds
          ? { 'retry-after': String(fault.retryAfterSeconds) }
          : {};
        return send(fault.status, { ok: false, error: fault.status === 429 ? 'ratelimited' : 'internal_error' }, extra);
      }
      const body = serve(check.operation, args!);
      const errors = api.checkResponse(check.operation, 200, body);
      if (errors.length > 0) violations.push(`answer to ${method}: ${errors.join('; ')}`);
      send(200, body);
    })().catch((err: unknown) => {
      violations.push(`stand-in failure: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    token,
    signingSecret,
    channel,
    messages,
    ephemerals,
    calls,
    violations,
    addUser: (u) => void users.set(u.id, u),
    topLevel: () => messages.filter((m) => !m.thread_ts),
    replies: (ts) => messages.filter((m) => m.thread_ts === ts),
    failNext(count, status, o = {}) {
      faults.push({ left: count, status, ...o });
    },
    click(ts, actionId, userId, o = {}) {
      const m = find(ts);
      const button = (m?.blocks ?? [])
        .flatMap((b) => (b.type === 'actions' ? (b.elements as Array<Record<string, unknown>>) : []))
        .find((e) => e.action_id === actionId);
      if (!m || !button) throw new Error(`message ${ts} has no button ${actionId}`);
      const at = o.at ?? Math.floor(Date.now() / 1000);
      const payload = {
        type: 'block_actions',
        user: { id: userId, username: userId.toLowerCase(), team_id: 'T0STANDIN' },
        team: { id: 'T0STANDIN', domain: 'standin' },
        channel: { id: channel, name: 'redis-incidents' },
        container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
        message: view(m, false),
        response_url: `http://127.0.0.1:${port}/actions/${ts}`,
        trigger_id: `${seq}.standin`,
        actions: [
          {
            type: 'button',
            action_id: actionId,
            block_id: 'runbook-decision',
            value: button.value,
            action_ts: `${at}.000000`,
          },
        ],
      };
      const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      return {
        body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(at),
          'x-slack-signature': slackSignature(o.secret ?? signingSecret, String(at), body),
        },
      };
    },
    assertAllValid() {
      if (violations.length > 0) throw new Error(`Slack stand-in saw invalid traffic:\n${violations.join('\n')}`);
    },
    stop: () => stopServer(server),
  };
}
