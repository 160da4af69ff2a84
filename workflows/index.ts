/** Workflow entry point bundled by the worker: export every workflow type here and nothing else. */
export { redisIncidentRunbook } from './runbook.js';
export { redisTargetLock } from './target-lock.js';
export { pagerDutyIncidentIntake } from './intake.js';
