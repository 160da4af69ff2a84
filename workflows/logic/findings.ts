/**
 * The findings: what the evidence says is wrong, one rule per system the runbook looked at (`findings/`). Pure: the
 * same evidence always gives the same findings, which is what lets a replay reach the same plan.
 */
import type { Thresholds } from '../../activities/settings/types.js';
import { cleanupRules } from './findings/cleanup.js';
import { deploymentRules } from './findings/deployment.js';
import type { Evidence, Finding, Rule } from './findings/model.js';
import { nodeRules } from './findings/node.js';
import { logRules, podRules } from './findings/pod.js';
import { commandRules, keyRules, memoryRules } from './findings/redis.js';
import { serverSignalRules } from './findings/server-signals.js';
import { storageRules } from './findings/storage.js';
import { topologyPodRules } from './findings/topology.js';

export type { Evidence, Finding, FindingId, Severity } from './findings/model.js';

const rules: Rule[] = [
  podRules,
  logRules,
  memoryRules,
  keyRules,
  commandRules,
  serverSignalRules,
  deploymentRules,
  nodeRules,
  storageRules,
  cleanupRules,
  topologyPodRules,
];
const order: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** Findings from the evidence, most severe first. Pure: the same evidence always gives the same findings. */
export function deriveFindings(evidence: Evidence, thresholds: Thresholds): Finding[] {
  return rules.flatMap((rule) => rule(evidence, thresholds)).sort((a, b) => order[a.severity] - order[b.severity]);
}
