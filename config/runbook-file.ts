/**
 * The `RUNBOOK_CONFIG` YAML file: its schema (which also gives its types), and reading it with errors that name the
 * file, the line or the field, and for a misspelt key the key it was probably meant to be.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatPath } from './errors.js';
import { closestKey } from './closest-key.js';
import { MAX_APPROVAL_TIMEOUT_SECONDS, MAX_VERIFY_WINDOW_SECONDS } from '../workflows/logic/limits.js';
import { patternRefusal } from '../workflows/logic/patterns.js';

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
  timeoutSeconds: positiveInt()
    .max(MAX_APPROVAL_TIMEOUT_SECONDS, { error: `at most ${MAX_APPROVAL_TIMEOUT_SECONDS} (a week)` })
    .default(3600),
  reminderIntervalSeconds: nonNegativeInt().default(900),
  onTimeout: z.enum(['reject', 'escalate'], { error: 'expected "reject" or "escalate"' }).default('reject'),
  /** A decision counts only with a verified proof of who sent it (`runbook approve --sign`, a gateway's signature). */
  requireProof: z.boolean({ error: 'expected true or false' }).default(true),
  /** Proofs accepted: SSH signatures (`ssh`) and the gateways that verify their users (`pagerduty`, `slack`). */
  acceptProofs: z
    .array(z.enum(['ssh', 'pagerduty', 'slack'], { error: 'expected "ssh", "pagerduty" or "slack"' }))
    .min(1, { error: 'empty, so no proof would count' })
    .default(['ssh', 'pagerduty', 'slack']),
  /** `allowed_signers` lines (`email ssh-ed25519 AAAA…`, the format of `ssh-keygen -Y verify` and git). */
  allowedSigners: z.array(z.string({ error: 'expected an allowed_signers line' })).default([]),
  /** An `allowed_signers` file, read at start-up and added to `allowedSigners`. */
  allowedSignersFile: z.string().min(1).optional(),
});

const cooldownSchema = z.strictObject({
  maxRemediations: positiveInt().default(3),
  windowSeconds: positiveInt().default(3600),
});

const backupSchema = z.strictObject({
  /** Where copies of the snapshots go: a volume mounted in the worker. */
  directory: z.string({ error: 'expected a directory path' }).min(1).optional(),
  /** Copies kept per target. */
  keep: positiveInt().default(5),
  /**
   * Which node of a replicated set saves and serves the snapshot: a replica in sync (the default: the fork and the
   * transfer spare a primary that is already struggling), else the primary; `primary` always uses the primary.
   */
  from: z.enum(['replica', 'primary'], { error: 'expected "replica" or "primary"' }).default('replica'),
  /** An S3-compatible bucket for the verified copies (credentials from the SDK's chain: AWS_* variables, IRSA). */
  s3: z
    .strictObject({
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'expected an S3 bucket name' }),
      prefix: z.string().max(200).optional(),
      region: z.string().min(1).optional(),
      endpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
      forcePathStyle: z.boolean().optional(),
    })
    .optional(),
});

const verifySchema = z
  .strictObject({
    windowSeconds: positiveInt()
      .max(MAX_VERIFY_WINDOW_SECONDS, { error: `at most ${MAX_VERIFY_WINDOW_SECONDS} (a day)` })
      .default(300),
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
  /** Sidekiq's own default `dead_timeout_in_seconds` is six months. */
  sidekiqDeadMaxAgeDays: positiveInt().default(180),
  maxKeysPerAction: positiveInt().default(100_000),
  cleanupP99TargetMs: z
    .number({ error: 'expected a number' })
    .positive({ error: 'expected a positive number' })
    .default(5),
  /** The same for the diagnosis scan: pages wait while the probe's p99 is above it. */
  scanP99TargetMs: z
    .number({ error: 'expected a number' })
    .positive({ error: 'expected a positive number' })
    .default(5),
});

const hostPortSchema = z.strictObject({
  host: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }),
  port: port(),
});

const redisAddressSchema = z.strictObject({
  host: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }),
  port: port(),
  db: nonNegativeInt().optional(),
  /**
   * A Sentinel-managed set: each step asks these Sentinels for the current primary of `masterName` (host and port
   * above are only where to start). A Cluster needs nothing here: host and port name a seed node, the rest is found.
   */
  sentinel: z
    .strictObject({
      masterName: z.string({ error: 'expected the name the Sentinels monitor' }).min(1),
      nodes: z.array(hostPortSchema, { error: 'expected a list of Sentinels (host, port)' }).min(1, {
        error: 'expected at least one Sentinel',
      }),
    })
    .optional(),
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
  /** Key patterns every run on this target previews and offers to UNLINK (paced, capped, approved like any change). */
  cleanup: z
    .array(
      z.string({ error: 'expected a key pattern' }).refine((p) => patternRefusal(p) === undefined, {
        error: (issue) =>
          `pattern ${JSON.stringify(issue.input)} is ${patternRefusal(String(issue.input)) ?? 'refused'}`,
      }),
      { error: 'expected a list of key patterns' },
    )
    .optional(),
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

/** Who a responder request pages: a PagerDuty user or escalation policy, by id. */
const responderTargetSchema = z.strictObject({
  type: z.enum(['user', 'escalation_policy'], { error: 'expected "user" or "escalation_policy"' }),
  id: z.string().regex(/^P[A-Z0-9]{5,13}$/, { error: 'expected a PagerDuty id, e.g. PABC123' }),
});

/** Responder requests: who is paged when a decision waits for people nobody paged. */
const respondersSchema = z.strictObject({
  /** The PagerDuty user the requests come from (the integration's user, as `PAGERDUTY_FROM_EMAIL`). */
  requesterId: z.string().regex(/^P[A-Z0-9]{5,13}$/, { error: 'expected a PagerDuty user id, e.g. PABC123' }),
  /** Paged when a backup override waits for its second approver. */
  secondApprover: z.array(responderTargetSchema).default([]),
  /** Paged when the approval deadline is this near (or was extended because nobody answered). */
  approvers: z.array(responderTargetSchema).default([]),
  nearDeadlineSeconds: z.number({ error: 'expected seconds' }).int().positive().default(900),
});

/** PagerDuty write-back and routing. Secrets are not here: they come from the environment only. */
const pagerdutySchema = z.strictObject({
  acknowledgeOnStart: z.boolean({ error: 'expected true or false' }).default(true),
  resolveOnSuccess: z.boolean({ error: 'expected true or false' }).default(false),
  /** A status update on the incident when the run ends (on accounts with status updates). Default true. */
  statusUpdates: z.boolean({ error: 'expected true or false' }).default(true),
  responders: respondersSchema.optional(),
  services: z.array(serviceRouteSchema, { error: 'expected a list of services' }).default([]),
});

/** Responder requests as configured. */
export type RespondersConfig = z.infer<typeof respondersSchema>;

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
    cooldown: cooldownSchema.prefault({}),
    backup: backupSchema.prefault({}),
    targets: z.array(targetSchema, { error: 'expected a list of targets' }).default([]),
    redis: z
      .strictObject({
        passwordEnv: envVarName().default(DEFAULT_PASSWORD_ENV),
        /** The ACL user the runbook connects as (see the README's rules); the default user when the variable is unset. */
        usernameEnv: envVarName().default('REDIS_USERNAME'),
        tls: z.boolean({ error: 'expected true or false' }).default(false),
        /** PEM files for TLS (`rediss://`): the CA that signed the servers, the worker's certificate and key (mutual TLS). */
        tlsCaFile: z.string().min(1).optional(),
        tlsCertFile: z.string().min(1).optional(),
        tlsKeyFile: z.string().min(1).optional(),
      })
      .refine((r) => (r.tlsCertFile === undefined) === (r.tlsKeyFile === undefined), {
        error: 'tlsCertFile and tlsKeyFile go together (a client certificate needs its key)',
        path: ['tlsKeyFile'],
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

function isMissing(input: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return true;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined || node === null;
}

/** The keys the schema knows at `path` of the file (`['targets', 0, 'redis']` → host, port, db). */
function knownKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  let schema: z.core.$ZodType = runbookFileSchema;
  const unwrap = () => {
    for (;;) {
      const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (def.innerType) schema = def.innerType;
      else if (def.type === 'pipe' && def.in) schema = def.in;
      else return def;
    }
  };
  for (const key of path) {
    const def = unwrap() as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    const next = typeof key === 'number' ? def.element : def.shape?.[String(key)];
    if (!next) return [];
    schema = next;
  }
  const def = unwrap() as { shape?: Record<string, unknown> };
  return Object.keys(def.shape ?? {});
}

function formatIssues(source: string, error: z.ZodError, input: unknown): string[] {
  // A misspelt key is both unknown and, when it stood for a required one, missing: name the typo, not the absence.
  const explained = new Set<string>();
  const lines = error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [];
    const at = formatPath(issue.path);
    const known = knownKeysAt(issue.path);
    return issue.keys.map((k) => {
      const meant = closestKey(
        k,
        known.filter((key) => isMissing(input, [...issue.path, key])),
      );
      if (meant) explained.add(formatPath([...issue.path, meant]));
      const hint = meant
        ? ` — did you mean \`${meant}\`?`
        : known.length > 0
          ? ` (known keys: ${known.join(', ')})`
          : '';
      return `${source}: ${at ? `${at}: ` : ''}unknown key \`${k}\`${hint}`;
    });
  });
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const at = formatPath(issue.path);
    if ([...explained].some((e) => at === e || at.startsWith(`${e}.`) || at.startsWith(`${e}[`))) continue;
    if (issue.code === 'invalid_type' && isMissing(input, issue.path)) {
      const hint = at === 'approval' || at === 'approval.approvers' ? APPROVERS_HINT : '';
      lines.push(`${source}: ${at === 'approval' ? 'approval.approvers' : at}: required${hint}`);
    } else lines.push(`${source}: ${at || '(top level)'}: ${issue.message}`);
  }
  return lines;
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
 * Reads and validates the file at `path`.
 * @throws {ConfigError} with one line per problem, e.g. `RUNBOOK_CONFIG f.yaml: unknown key \`aproval\` — did you mean
 *   \`approval\`?`.
 */
export async function readRunbookFile(path: string): Promise<RunbookFile> {
  const raw = await readConfigFile(path);
  const parsed = runbookFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(formatIssues(`RUNBOOK_CONFIG ${path}`, parsed.error, raw), { cause: parsed.error });
  return parsed.data;
}

/**
 * The file a worker without `RUNBOOK_CONFIG` runs with (local development): anyone but the starter may approve, and a
 * bare `--by` counts (there is no allowed_signers list to check a signature against).
 */
export function developmentFile(): RunbookFile {
  return runbookFileSchema.parse({ approval: { approvers: ['*'], requireProof: false } });
}
