import type { Thresholds } from '../../activities/settings/types.js';

/** The pacing a diagnosis asks for: the configured scan target, else the activity's own default (5 ms). */
export function scanPacing(t: Pick<Thresholds, 'scanP99TargetMs'>): { pacing?: { p99TargetMs: number } } {
  return t.scanP99TargetMs ? { pacing: { p99TargetMs: t.scanP99TargetMs } } : {};
}
