import type { KubeConfig } from '@kubernetes/client-node';
import type { RunbookSettings } from './settings/types.js';
import { createKubernetesActivities } from './kubernetes/index.js';
import { createNotifyActivities, type Notifier } from './notify/index.js';
import { createRedisActivities, type RedisConnector } from './redis/index.js';
import { createSettingsActivities } from './settings/index.js';

/** The clients the activities need; the worker builds them from its configuration. */
export interface ActivityDependencies {
  kubeConfig: KubeConfig;
  redis: RedisConnector;
  notifier: Notifier;
  settings: RunbookSettings;
}

/** Every activity of the runbook, grouped by the system it touches. */
export function createActivities(deps: ActivityDependencies) {
  return {
    ...createKubernetesActivities(deps.kubeConfig),
    ...createRedisActivities(deps.redis),
    ...createNotifyActivities(deps.notifier),
    ...createSettingsActivities(deps.settings),
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
