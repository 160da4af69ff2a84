/** A `plan-ready` event as a run tells it: a safe and a risky action, the risky one waiting for approval. */
import type { RunbookEvent } from '../activities/notify/events.js';
import type { Finding } from '../workflows/logic/findings.js';

export function planReadyEvent(opts: {
  incidentId: string;
  uiUrl: string;
  planId: string;
  findings: Finding[];
  needsApproval?: string[];
}): Extract<RunbookEvent, { type: 'plan-ready' }> {
  return {
    type: 'plan-ready',
    incidentId: opts.incidentId,
    uiUrl: opts.uiUrl,
    findings: opts.findings,
    plan: {
      id: opts.planId,
      persistAdvice: [],
      actions: [
        {
          id: 'memory-purge',
          risk: 'safe',
          destructive: false,
          summary: 'MEMORY PURGE',
          action: { kind: 'memory-purge' },
        },
        {
          id: 'set-maxmemory-policy',
          risk: 'risky',
          destructive: false,
          summary: 'CONFIG SET maxmemory-policy volatile-lru',
          action: { kind: 'set-maxmemory-policy', policy: 'volatile-lru' },
        },
      ],
    },
    needsApproval: opts.needsApproval ?? ['set-maxmemory-policy'],
  };
}
