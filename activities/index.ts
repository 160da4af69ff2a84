import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { createBackupActivities, type BackupStoreConfig } from './backup/index.js';
import { createIdentityActivities, type IdentityPolicy } from './identity/index.js';
import type { RunbookSettings } from './settings/types.js';
import { createKubernetesActivities } from './kubernetes/index.js';
import { createNotifyActivities, type Notifier } from './notify/index.js';
import { createRedisActivities, type RedisConnector } from './redis/index.js';
import { createSettingsActivities } from './settings/index.js';
import { createTemporalActivities } from './temporal/index.js';
import { createIntakeActivities, type IntakeDependencies } from './pagerduty/intake.js';

/** The clients the activities need; the worker builds them from its configuration. */
export interface ActivityDependencies {
  kubeConfig: KubeConfig;
  redis: RedisConnector;
  notifier: Notifier;
  settings: RunbookSettings;
  /** A client of the worker's own Temporal connection (the per-target lock, the runs an intake starts). */
  temporal: Client;
  /** The worker's task queue, where an intake starts the runbook. */
  taskQueue: string;
  /** PagerDuty and the routes, for the intake of an incident. */
  intake: IntakeDependencies;
  /** Who may sign decisions, and the gateways' secrets. */
  identity: IdentityPolicy;
  /** Where backups copied off the Redis servers go (`backup` in RUNBOOK_CONFIG). */
  backupStore: BackupStoreConfig;
}

/** Every activity of the runbook, grouped by the system it touches. */
export function createActivities(deps: ActivityDependencies) {
  return {
    ...createKubernetesActivities(deps.kubeConfig),
    ...createRedisActivities(deps.redis, { backupFrom: deps.backupStore.from }),
    ...createBackupActivities(deps.redis, deps.backupStore),
    ...createNotifyActivities(deps.notifier),
    ...createSettingsActivities(deps.settings),
    ...createTemporalActivities(deps.temporal, deps.taskQueue),
    ...createIntakeActivities(deps.intake),
    ...createIdentityActivities(deps.identity),
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
