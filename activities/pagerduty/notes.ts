/**
 * The notes the runbook writes on a PagerDuty incident: short and plain text (PagerDuty shows notes as they are),
 * each pointing at the run for the long detail.
 */
import type { RunbookEvent } from '../notify/events.js';

/** Longest note written; PagerDuty's own limit is far higher, but a note is read on a phone at 3 a.m. */
export const MAX_NOTE_CHARS = 1500;

const MIB = 1024 * 1024;

function figure(key: string, value: number | string | undefined): string {
  if (value === undefined) return '?';
  if (typeof value === 'number' && /memory$/i.test(key)) return `${(value / MIB).toFixed(0)} MiB`;
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(2);
  return String(value);
}

function cap(text: string): string {
  return text.length <= MAX_NOTE_CHARS ? text : `${text.slice(0, MAX_NOTE_CHARS - 1)}…`;
}

/**
 * The marker that makes a note findable again: the run, the event and the notify call that wrote it. A retried
 * activity finds its marker among the incident's notes and does not post twice.
 */
export function noteMarker(eventType: RunbookEvent['type'], key: string): string {
  return `[redis-runbook ${eventType} ${key}]`;
}

/** The note for one run event. */
export function renderNote(event: RunbookEvent): string {
  switch (event.type) {
    case 'started': {
      const t = event.target;
      return cap(
        `Redis runbook started for pod ${t.namespace}/${t.pod} (Redis ${t.redis.host}:${t.redis.port}). ` +
          `It diagnoses, plans, and asks before changing anything.\nRun: ${event.uiUrl}`,
      );
    }
    case 'plan-ready': {
      const lines = [`Findings (${event.findings.length}):`];
      for (const f of event.findings.slice(0, 5)) lines.push(`- ${f.severity.toUpperCase()}: ${f.message}`);
      if (event.findings.length > 5) lines.push(`- … ${event.findings.length - 5} more in the run`);
      lines.push(`Plan ${event.plan.id}:`);
      for (const a of event.plan.actions) {
        const gate = event.needsApproval.includes(a.id) ? 'needs approval' : 'runs without approval';
        lines.push(`- ${a.id} (${a.risk}, ${gate}): ${a.summary}`);
      }
      if (event.plan.actions.length === 0) lines.push('- nothing to run');
      for (const advice of event.plan.appAdvice ?? []) lines.push(`Application setting: ${advice}`);
      for (const advice of event.plan.outsideAdvice ?? []) lines.push(`Outside Redis: ${advice}`);
      if (event.needsApproval.length > 0) {
        lines.push(
          `To approve: run the "Approve Redis runbook" incident action, or ` +
            `runbook approve ${event.incidentId} --by <email> --plan ${event.plan.id}`,
        );
      }
      lines.push(`Run: ${event.uiUrl}`);
      return cap(lines.join('\n'));
    }
    case 'approval-reminder':
      return cap(`Still waiting for approval of plan ${event.planId} (until ${event.deadline}). Run: ${event.uiUrl}`);
    case 'approval-escalated':
      return cap(`Approval of plan ${event.planId} escalated; new deadline ${event.deadline}. Run: ${event.uiUrl}`);
    case 'decision': {
      const r = event.record;
      const what = r.decision === 'approve' ? 'Approval' : 'Rejection';
      const via = r.via ? ` via ${r.via}` : '';
      const verdict = r.accepted ? 'accepted' : `refused: ${r.refusal ?? 'no reason given'}`;
      const scope = r.accepted && r.decision === 'approve' && r.actions?.length ? ` (${r.actions.join(', ')})` : '';
      return cap(`${what} by ${r.by}${via} ${verdict}${scope}.${r.reason ? ` Reason: ${r.reason}` : ''}`);
    }
    case 'target-busy':
      return cap(
        `Another incident's run is working on this Redis: ${event.holder.incidentId} (${event.holder.workflowId}). ` +
          `This run waits for it to end (no second backup or remediation), then diagnoses again on fresh evidence.\nRun: ${event.uiUrl}`,
      );
    case 'incident-linked':
      return cap(
        `Incident ${event.other.incidentId} was opened for the same Redis; its run (${event.other.workflowId}) waits ` +
          `for this one to end.\nRun: ${event.uiUrl}`,
      );
    case 'breaker-open':
      return cap(
        `Circuit breaker open: this Redis was remediated ${event.recentRemediations} time(s) in the last ` +
          `${event.windowSeconds} s (limit ${event.maxRemediations}). Every action of plan ${event.planId} needs ` +
          `a person's approval, the safe ones too: a remediation that keeps coming back is not fixing the cause.\nRun: ${event.uiUrl}`,
      );
    case 'backup-copied': {
      const c = event.copy;
      if (!c?.verified)
        return cap(
          `Backup NOT confirmed: the snapshot could not be copied off the server and restore-tested ` +
            `(${event.error ?? c?.restoreTest.reason ?? 'unknown'}). Risky actions need a backup override by two approvers.\nRun: ${event.uiUrl}`,
        );
      const t = c.restoreTest;
      return cap(
        [
          `Backup copied off the server and restore-tested: ${c.path}`,
          `- ${(c.bytes / 1048576).toFixed(1)} MiB at ${c.rate} MiB/s, RDB v${c.rdbVersion}, CRC-64 ${c.crc64} ok, sha256 ${c.sha256.slice(0, 16)}…`,
          `- loaded into a scratch redis-server ${t.scratchVersion} in ${t.loadMs} ms: ${t.keys} keys (snapshot says ${t.expectedKeys ?? '?'}), ${t.typesMatched}/${t.sampled} sampled types match the live server`,
          `- to restore: ${c.restoreHint}`,
          `Run: ${event.uiUrl}`,
        ].join('\n'),
      );
    }
    case 'finished': {
      const report = event.report;
      const lines = [`Runbook finished: ${report.outcome}. ${report.summary}`];
      if (report.before && report.after) {
        lines.push('Before → after:');
        for (const key of Object.keys(report.before)) {
          lines.push(`- ${key}: ${figure(key, report.before[key])} → ${figure(key, report.after[key])}`);
        }
      }
      lines.push(`Run: ${event.uiUrl}`);
      return cap(lines.join('\n'));
    }
  }
}
