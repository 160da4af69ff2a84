/**
 * What the worker and the receiver run with: the environment and the `RUNBOOK_CONFIG` file, read once at start-up, so
 * a typo or a bad value stops the process with a message naming the field and the file instead of surfacing
 * mid-incident. Holds no secret: passwords and tokens stay in the environment until used (see `secrets.ts`).
 */
import { access, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  ApprovalPolicy,
  CooldownPolicy,
  RunbookSettings,
  Thresholds,
  VerifyPolicy,
} from '../activities/settings/types.js';
import type { S3StoreConfig } from '../activities/backup/s3-store.js';
import { parseAllowedSigners, type AllowedSigner } from '../activities/identity/allowed-signers.js';
import { ConfigError } from './errors.js';
import { readEnvironment, type LOG_LEVELS, type TemporalSettings, type WorkerCapacity } from './environment.js';
import {
  DEFAULT_PASSWORD_ENV,
  developmentFile,
  readRunbookFile,
  type RunbookFile,
  type RespondersConfig,
  type ServiceRoute,
  type TargetConfig,
} from './runbook-file.js';

/** Everything the worker runs with. Holds no secret: passwords stay in the environment until a connection is made. */
export interface RunbookConfig {
  temporal: TemporalSettings;
  /**
   * Worker Deployment Versioning (`RUNBOOK_DEPLOYMENT_NAME`, `RUNBOOK_BUILD_ID`, `RUNBOOK_PROMOTE_VERSION`): runs stay
   * on the version that started them. Without a build id the worker makes one from the package version and the
   * workflow bundle's hash, so changed workflow code never shares a build id with the old.
   */
  deployment?: { deploymentName: string; buildId?: string; promote: boolean };
  /** Path of the YAML file it was read from, when `RUNBOOK_CONFIG` was set. */
  configFile?: string;
  /** `KUBECONFIG` when set (checked to exist); otherwise `~/.kube/config` or the in-cluster service account. */
  kubeconfig?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** `RUNBOOK_METRICS_ADDRESS`: where the worker serves Prometheus metrics (`/metrics`); none when unset. */
  metricsAddress?: string;
  /** `RUNBOOK_MAX_*`: how much one worker takes on at once; each unset one is the SDK's default. */
  capacity: WorkerCapacity;
  approval: ApprovalPolicy & { acceptProofs: Array<'ssh' | 'pagerduty' | 'slack'> };
  /** Who may sign approvals with which SSH key (`approval.allowedSigners` and `approval.allowedSignersFile`). */
  allowedSigners: AllowedSigner[];
  verify: VerifyPolicy;
  thresholds: Thresholds;
  cooldown: CooldownPolicy;
  /** Where backups copied off the servers go, and how many per target are kept. */
  backup: { directory: string; keep: number; s3?: S3StoreConfig };
  targets: TargetConfig[];
  redis: RunbookFile['redis'];
  pagerduty: PagerDutySettings;
  /** Slack without secrets (`SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` stay in the environment). */
  slack: { apiUrl: string; channel?: string };
  /** Things worth a warning at start-up (defaults taken for production-relevant settings, unset password vars). */
  warnings: string[];
}

/** PagerDuty settings without secrets: the token and webhook secrets stay in the environment. */
export interface PagerDutySettings {
  /** `PAGERDUTY_API_TOKEN` is set: write back to PagerDuty. */
  writeBack: boolean;
  /** `PAGERDUTY_API_URL`, default `https://api.pagerduty.com`, without a trailing slash. */
  apiUrl: string;
  /** `PAGERDUTY_EVENTS_URL`, default `https://events.pagerduty.com`: where change events go (`PAGERDUTY_ROUTING_KEY`). */
  eventsUrl: string;
  /** `PAGERDUTY_FROM_EMAIL`, required with a token (writes need `From`). */
  fromEmail?: string;
  acknowledgeOnStart: boolean;
  resolveOnSuccess: boolean;
  statusUpdates: boolean;
  responders?: RespondersConfig;
  services: ServiceRoute[];
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
  const e = readEnvironment(env);
  const warnings: string[] = [];
  let file: RunbookFile;
  if (e.configFile) {
    file = await readRunbookFile(e.configFile);
  } else {
    file = developmentFile();
    warnings.push(
      'RUNBOOK_CONFIG is not set: using development defaults (anyone may approve, except whoever started the run). ' +
        'Set RUNBOOK_CONFIG to a file listing approval.approvers for production.',
    );
  }
  const backupDirectory = file.backup.directory ?? join(tmpdir(), 'redis-runbook', 'backups');
  if (e.configFile && !file.backup.directory && !file.backup.s3)
    warnings.push(
      `backup.directory is not set: copies of the snapshots go to ${backupDirectory}, which does not outlive this ` +
        'machine; point it at a persistent volume',
    );
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
  const { allowedSigners: lines, allowedSignersFile, ...approval } = file.approval;
  const allowedSigners = await readAllowedSigners(lines, allowedSignersFile);
  if (approval.requireProof && approval.acceptProofs.includes('ssh') && allowedSigners.length === 0)
    warnings.push(
      'approval.requireProof is on and no allowed_signers are configured: only gateway proofs (PagerDuty) can count',
    );
  if (!approval.requireProof)
    warnings.push('approval.requireProof is off: a decision counts on the name its sender typed (--by)');
  return {
    temporal: e.temporal,
    ...(e.deployment ? { deployment: e.deployment } : {}),
    ...(e.configFile ? { configFile: e.configFile } : {}),
    ...(e.kubeconfig ? { kubeconfig: e.kubeconfig } : {}),
    logLevel: e.logLevel,
    ...(e.metricsAddress ? { metricsAddress: e.metricsAddress } : {}),
    capacity: e.capacity,
    approval,
    allowedSigners,
    verify: file.verify,
    thresholds: file.thresholds,
    cooldown: file.cooldown,
    backup: { directory: backupDirectory, keep: file.backup.keep, ...(file.backup.s3 && { s3: file.backup.s3 }) },
    targets: file.targets,
    redis: file.redis,
    pagerduty: { ...e.pagerduty, ...file.pagerduty },
    slack: e.slack,
    warnings,
  };
}

/** The part of the configuration the workflow sees (through the `loadSettings` activity): no address, no secret. */
export function settingsFromConfig(cfg: RunbookConfig): RunbookSettings {
  return {
    approval: {
      approvers: [...cfg.approval.approvers],
      requireDifferentApprover: cfg.approval.requireDifferentApprover,
      timeoutSeconds: cfg.approval.timeoutSeconds,
      reminderIntervalSeconds: cfg.approval.reminderIntervalSeconds,
      onTimeout: cfg.approval.onTimeout,
      requireProof: cfg.approval.requireProof ?? true,
    },
    verify: { ...cfg.verify },
    thresholds: { ...cfg.thresholds },
    cooldown: { ...cfg.cooldown },
    temporalUiUrl: cfg.temporal.uiUrl,
    namespace: cfg.temporal.namespace,
  };
}

/** The inline `allowed_signers` lines and those of the file, parsed. */
async function readAllowedSigners(lines: string[], file: string | undefined): Promise<AllowedSigner[]> {
  const fromFile: string[] = [];
  if (file) {
    try {
      fromFile.push(...(await readFile(file, 'utf8')).split('\n'));
    } catch (err) {
      throw new ConfigError([`approval.allowedSignersFile ${file}: cannot read`], { cause: err });
    }
  }
  try {
    return [...parseAllowedSigners(lines, 'approval.allowedSigners'), ...parseAllowedSigners(fromFile, file ?? '')];
  } catch (err) {
    throw new ConfigError([err instanceof Error ? err.message : String(err)], { cause: err });
  }
}
