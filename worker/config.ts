/**
 * The worker's configuration: environment variables plus an optional YAML file (`RUNBOOK_CONFIG`), read once at
 * start-up and validated by one schema, so a typo or a bad value stops the worker with a message naming the field and
 * the file instead of surfacing mid-incident. Secrets are never part of it: only the *names* of the environment
 * variables that hold Redis passwords, read when a connection is made.
 */
import { access, readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../workflows/definitions.js';
import type { ApprovalPolicy, RunbookSettings, Thresholds, VerifyPolicy } from '../activities/settings/types.js';

/** Environment variables the worker reads; `docker-compose.yml` and the Kubernetes manifests set these names. */
export const ENV_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'RUNBOOK_TASK_QUEUE',
  'TEMPORAL_UI_URL',
  'RUNBOOK_CONFIG',
  'KUBECONFIG',
  'REDIS_PASSWORD',
  'LOG_LEVEL',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_FROM_EMAIL',
  'PAGERDUTY_API_URL',
] as const;

/** Name of the environment variable holding the Redis password when neither the file nor a target names another. */
export const DEFAULT_PASSWORD_ENV = 'REDIS_PASSWORD';

const MIB = 1024 * 1024;
const DAY = 24 * 60 * 60;

const positiveInt = () =>
  z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).positive({
    error: 'expected a positive number',
  });
const nonNegativeInt = () =>
  z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).nonnegative({
    error: 'expected zero or a positive number',
  });
const ratio = () =>
  z
    .number({ error: 'expected a number' })
    .positive({ error: 'expected a number between 0 and 1' })
    .max(1, { error: 'expected a number between 0 and 1' });
const envVarName = () =>
  z.string({ error: 'expected the name of an environment variable' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    error: 'expected the name of an environment variable (letters, digits, _), not its value',
  });
const port = () =>
  z.number({ error: 'expected a port number' }).int({ error: 'expected a port number' }).min(1).max(65535, {
    error: 'expected a port number (1-65535)',
  });

const APPROVERS_HINT = ': list the emails allowed to approve, or "*" for anyone';

const approverSchema = z
  .string({ error: 'expected an email or "*"' })
  .trim()
  .refine((s) => s === '*' || /^[^\s@]+@[^\s@]+$/.test(s), { error: 'expected an email or "*"' });

const approvalSchema = z.strictObject({
  approvers: z
    .array(approverSchema, { error: 'expected a list of emails (or "*" for anyone)' })
    .min(1, { error: `empty, so nobody could approve${APPROVERS_HINT}` }),
  requireDifferentApprover: z.boolean({ error: 'expected true or false' }).default(true),
  timeoutSeconds: positiveInt().default(3600),
  reminderIntervalSeconds: nonNegativeInt().default(900),
  onTimeout: z.enum(['reject', 'escalate'], { error: 'expected "reject" or "escalate"' }).default('reject'),
});

const verifySchema = z
  .strictObject({
    windowSeconds: positiveInt().default(300),
    intervalSeconds: positiveInt().default(30),
  })
  .refine((v) => v.intervalSeconds <= v.windowSeconds, {
    error: 'intervalSeconds must not exceed windowSeconds',
    path: ['intervalSeconds'],
    when: (payload) => payload.issues.length === 0,
  });

const thresholdsSchema = z.strictObject({
  memoryNearLimitRatio: ratio().default(0.9),
  maxmemoryShareOfLimit: ratio().default(0.75),
  fragmentationRatio: z
    .number({ error: 'expected a number' })
    .min(1, { error: 'expected a ratio of 1 or more' })
    .default(1.5),
  bigKeyBytes: positiveInt().default(10 * MIB),
  statKeyTtlSeconds: positiveInt().default(90 * DAY),
  sidekiqDeadMax: nonNegativeInt().default(10_000),
  maxKeysPerAction: positiveInt().default(100_000),
  cleanupP99TargetMs: z
    .number({ error: 'expected a number' })
    .positive({ error: 'expected a positive number' })
    .default(5),
});

const redisAddressSchema = z.strictObject({
  host: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }),
  port: port(),
  db: nonNegativeInt().optional(),
});

const targetSchema = z.strictObject({
  name: z.string({ error: 'expected a name' }).min(1, { error: 'expected a name' }),
  namespace: z
    .string({ error: 'expected a Kubernetes namespace' })
    .min(1, { error: 'expected a Kubernetes namespace' }),
  pod: z.string({ error: 'expected a pod name' }).min(1, { error: 'expected a pod name' }),
  container: z.string().min(1).optional(),
  redis: redisAddressSchema,
  /** Environment variable holding this target's password; the global `redis.passwordEnv` when absent. */
  passwordEnv: envVarName().optional(),
});

const serviceRouteSchema = z.strictObject({
  /** PagerDuty service id (`PSVC123`): incidents of this service are Redis incidents. */
  id: z.string({ error: 'expected a PagerDuty service id' }).regex(/^[A-Z0-9]+$/, {
    error: 'expected a PagerDuty service id, e.g. PSVC123',
  }),
  name: z.string().min(1).optional(),
  /** Default target of the service's incidents; an alert's details win over it. */
  namespace: z.string().min(1).optional(),
  pod: z.string().min(1).optional(),
  container: z.string().min(1).optional(),
  /** Where the service's Redis answers, unless a `targets` entry matches the routed namespace and pod. */
  redis: redisAddressSchema,
});

/** PagerDuty write-back and routing. Secrets are not here: they come from the environment only. */
const pagerdutySchema = z.strictObject({
  acknowledgeOnStart: z.boolean({ error: 'expected true or false' }).default(true),
  resolveOnSuccess: z.boolean({ error: 'expected true or false' }).default(false),
  services: z.array(serviceRouteSchema, { error: 'expected a list of services' }).default([]),
});

/** One PagerDuty service the webhook routes to a Redis target. */
export type ServiceRoute = z.infer<typeof serviceRouteSchema>;

/**
 * Schema of the `RUNBOOK_CONFIG` YAML file. Every object is strict: an unknown key is an error, so a misspelt setting
 * is caught at start-up instead of silently taking its default.
 */
export const runbookFileSchema = z
  .strictObject({
    approval: approvalSchema,
    verify: verifySchema.prefault({}),
    thresholds: thresholdsSchema.prefault({}),
    targets: z.array(targetSchema, { error: 'expected a list of targets' }).default([]),
    redis: z
      .strictObject({
        passwordEnv: envVarName().default(DEFAULT_PASSWORD_ENV),
        tls: z.boolean({ error: 'expected true or false' }).default(false),
      })
      .prefault({}),
    pagerduty: pagerdutySchema.prefault({}),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate name "${t.name}"` });
      seen.add(t.name);
    });
  });

/** The YAML file once validated, defaults filled in. */
export type RunbookFile = z.infer<typeof runbookFileSchema>;
/** A named Redis target from the file. */
export type TargetConfig = RunbookFile['targets'][number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d+$/, { error: 'expected host:port, e.g. localhost:7233' })
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  RUNBOOK_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://localhost:8233' })
    .default('http://localhost:8233'),
  RUNBOOK_CONFIG: z.string().min(1).optional(),
  KUBECONFIG: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  PAGERDUTY_API_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://api.pagerduty.com' })
    .default('https://api.pagerduty.com'),
  PAGERDUTY_FROM_EMAIL: z.email({ error: 'expected the email of a PagerDuty user' }).optional(),
  // Only whether it is set: the value is read where it is used (readPagerDutySecrets), never kept here.
  PAGERDUTY_API_TOKEN: z
    .string()
    .min(1)
    .optional()
    .transform((v) => v !== undefined),
});

/** Where to reach Temporal; the part of the configuration the CLI shares with the worker. */
export interface TemporalSettings {
  /** `host:port` of the frontend (`TEMPORAL_ADDRESS`, default `localhost:7233`). */
  address: string;
  /** `TEMPORAL_NAMESPACE`, default `default`. */
  namespace: string;
  /** `RUNBOOK_TASK_QUEUE`, default {@link DEFAULT_TASK_QUEUE}. */
  taskQueue: string;
  /** Base URL of the Web UI without a trailing slash (`TEMPORAL_UI_URL`, default `http://localhost:8233`). */
  uiUrl: string;
}

/** Everything the worker runs with. Holds no secret: passwords stay in the environment until a connection is made. */
export interface RunbookConfig {
  temporal: TemporalSettings;
  /** Path of the YAML file it was read from, when `RUNBOOK_CONFIG` was set. */
  configFile?: string;
  /** `KUBECONFIG` when set (checked to exist); otherwise `~/.kube/config` or the in-cluster service account. */
  kubeconfig?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  approval: ApprovalPolicy;
  verify: VerifyPolicy;
  thresholds: Thresholds;
  targets: TargetConfig[];
  redis: { passwordEnv: string; tls: boolean };
  pagerduty: PagerDutySettings;
  /** Things worth a warning at start-up (defaults taken for production-relevant settings, unset password vars). */
  warnings: string[];
}

/** PagerDuty settings without secrets: the token and webhook secrets stay in the environment. */
export interface PagerDutySettings {
  /** `PAGERDUTY_API_TOKEN` is set: write back to PagerDuty. */
  writeBack: boolean;
  /** `PAGERDUTY_API_URL`, default `https://api.pagerduty.com`, without a trailing slash. */
  apiUrl: string;
  /** `PAGERDUTY_FROM_EMAIL`, required with a token (writes need `From`). */
  fromEmail?: string;
  acknowledgeOnStart: boolean;
  resolveOnSuccess: boolean;
  services: ServiceRoute[];
}

/** Secrets of the PagerDuty integration, read from the environment where they are used and kept nowhere else. */
export interface PagerDutySecrets {
  /** `PAGERDUTY_API_TOKEN`. */
  apiToken?: string;
  /** `PAGERDUTY_WEBHOOK_SECRET`, split at commas: during a rotation both the old and the new secret verify. */
  webhookSecrets: string[];
  /** `PAGERDUTY_ACTION_SECRET`, split at commas: the shared secret `/pagerduty/action` accepts instead of a signature. */
  actionSecrets: string[];
}

function splitSecrets(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads {@link PagerDutySecrets}. Never log or store the result. */
export function readPagerDutySecrets(env: NodeJS.ProcessEnv = process.env): PagerDutySecrets {
  const token = env.PAGERDUTY_API_TOKEN?.trim();
  return {
    ...(token ? { apiToken: token } : {}),
    webhookSecrets: splitSecrets(env.PAGERDUTY_WEBHOOK_SECRET),
    actionSecrets: splitSecrets(env.PAGERDUTY_ACTION_SECRET),
  };
}

/** Invalid configuration. `issues` holds one line per problem, each naming its source and field. */
export class ConfigError extends Error {
  constructor(
    public readonly issues: string[],
    options?: { cause?: unknown },
  ) {
    super(issues.join('\n'), options);
    this.name = 'ConfigError';
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}

function isMissing(input: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return true;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined || node === null;
}

function formatIssues(source: string, error: z.ZodError, input: unknown): string[] {
  return error.issues.flatMap((issue) => {
    const at = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${source}: ${at ? `${at}.` : ''}${k}: unknown key`);
    }
    if (issue.code === 'invalid_type' && isMissing(input, issue.path)) {
      const hint = at === 'approval' || at === 'approval.approvers' ? APPROVERS_HINT : '';
      return [`${source}: ${at === 'approval' ? 'approval.approvers' : at}: required${hint}`];
    }
    return [`${source}: ${at || '(top level)'}: ${issue.message}`];
  });
}

/**
 * Reads the Temporal connection settings from the environment only (no file, no Kubernetes): what the CLI needs.
 * @throws {ConfigError} naming the variable when a value is malformed.
 */
export function loadTemporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const e = parseEnv(env);
  return e.temporal;
}

function parseEnv(env: NodeJS.ProcessEnv) {
  // An empty variable (`FOO=`) means unset, as in most shells' and compose files' conventions.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
      { cause: parsed.error },
    );
  }
  const v = parsed.data;
  return {
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.RUNBOOK_TASK_QUEUE,
      uiUrl: v.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    },
    configFile: v.RUNBOOK_CONFIG,
    kubeconfig: v.KUBECONFIG,
    logLevel: v.LOG_LEVEL,
    pagerduty: {
      writeBack: v.PAGERDUTY_API_TOKEN,
      apiUrl: v.PAGERDUTY_API_URL.replace(/\/+$/, ''),
      ...(v.PAGERDUTY_FROM_EMAIL ? { fromEmail: v.PAGERDUTY_FROM_EMAIL } : {}),
    },
  };
}

async function readConfigFile(path: string): Promise<unknown> {
  const source = `RUNBOOK_CONFIG ${path}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new ConfigError([`${source}: cannot read: ${why}`], { cause: err });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const what = (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '');
        return `${source}: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${what}`;
      }),
      { cause: doc.errors[0] },
    );
  }
  return doc.toJS() ?? {};
}

/**
 * Reads and validates the configuration: environment first, then the YAML file named by `RUNBOOK_CONFIG` if any.
 *
 * Without `RUNBOOK_CONFIG` (local development) the approval policy lets anyone approve (`approvers: ['*']`) but still
 * refuses an approval by whoever started the run, and a warning says so. With a file, `approval.approvers` is
 * required and must not be empty: a production worker that nobody can approve on would time out every run.
 *
 * @throws {ConfigError} with one line per problem, e.g.
 *   `RUNBOOK_CONFIG /etc/runbook.yaml: approval.timeoutSeconds: expected a positive number`.
 */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env): Promise<RunbookConfig> {
  const e = parseEnv(env);
  const warnings: string[] = [];
  let file: RunbookFile;
  if (e.configFile) {
    const raw = await readConfigFile(e.configFile);
    const parsed = runbookFileSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(formatIssues(`RUNBOOK_CONFIG ${e.configFile}`, parsed.error, raw), { cause: parsed.error });
    }
    file = parsed.data;
  } else {
    file = runbookFileSchema.parse({ approval: { approvers: ['*'] } });
    warnings.push(
      'RUNBOOK_CONFIG is not set: using development defaults (anyone may approve, except whoever started the run). ' +
        'Set RUNBOOK_CONFIG to a file listing approval.approvers for production.',
    );
  }
  if (e.configFile && file.approval.approvers.includes('*')) {
    warnings.push(`RUNBOOK_CONFIG ${e.configFile}: approval.approvers contains "*": anyone may approve`);
  }
  if (e.pagerduty.writeBack && !e.pagerduty.fromEmail) {
    throw new ConfigError([
      'PAGERDUTY_FROM_EMAIL: required when PAGERDUTY_API_TOKEN is set (PagerDuty writes need the From header)',
    ]);
  }
  if (e.kubeconfig) {
    try {
      await access(e.kubeconfig);
    } catch (err) {
      throw new ConfigError([`KUBECONFIG ${e.kubeconfig}: file not found or not readable`], { cause: err });
    }
  }
  // REDIS_PASSWORD unset is normal (Redis without AUTH); a variable the file names explicitly but nobody set is a mistake.
  const named = [
    ...(file.redis.passwordEnv !== DEFAULT_PASSWORD_ENV ? [file.redis.passwordEnv] : []),
    ...file.targets.flatMap((t) => t.passwordEnv ?? []),
  ];
  for (const name of new Set(named)) {
    if (!env[name]) warnings.push(`${name} is not set: Redis connections that use it will not authenticate`);
  }
  return {
    temporal: e.temporal,
    ...(e.configFile ? { configFile: e.configFile } : {}),
    ...(e.kubeconfig ? { kubeconfig: e.kubeconfig } : {}),
    logLevel: e.logLevel,
    approval: file.approval,
    verify: file.verify,
    thresholds: file.thresholds,
    targets: file.targets,
    redis: file.redis,
    pagerduty: { ...e.pagerduty, ...file.pagerduty },
    warnings,
  };
}

/** The part of the configuration the workflow sees (through the `loadSettings` activity): no address, no secret. */
export function settingsFromConfig(cfg: RunbookConfig): RunbookSettings {
  return {
    approval: { ...cfg.approval, approvers: [...cfg.approval.approvers] },
    verify: { ...cfg.verify },
    thresholds: { ...cfg.thresholds },
    temporalUiUrl: cfg.temporal.uiUrl,
    namespace: cfg.temporal.namespace,
  };
}
