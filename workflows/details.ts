import type { RunbookStatus } from './definitions.js';
import { nodePodLine } from './logic/topology.js';

/**
 * Text from the run (finding messages, reasons, names) as literal Markdown: `stat:*` must not turn into emphasis, nor
 * a command's `--type` into a typographic dash. (The UI's renderer shows an escaped quote with its backslash, so
 * quotes are left to become typographic: the CLI's `status` has the exact commands.)
 */
function md(text: string): string {
  return text.replace(/[\\`*_[\]<>-]/g, (c) => `\\${c}`);
}

/**
 * The run's current details as Markdown for the Temporal UI: phase, findings, plan, what waits for whom. Kept short
 * (the UI shows it as is); the full status is behind the `status` query.
 */
export function renderDetails(s: RunbookStatus): string {
  const lines = [
    `**Phase:** ${s.phase} · **Outcome:** ${s.outcome}`,
    `**Target:** ${s.target.namespace}/${s.target.pod} (${s.target.redis.host}:${s.target.redis.port})`,
  ];
  const t = s.topology;
  if (t && t.kind !== 'standalone') {
    const primaries = t.kind === 'cluster' ? `${t.primaries.length} primaries` : `primary ${t.primaries[0] ?? '?'}`;
    lines.push(`**Topology:** ${t.kind} · ${primaries} · ${t.replicas} replica(s), ${t.inSync} in sync`);
    if (t.scannedOn) lines.push(`**Scan:** ${md(t.scannedOn)}`);
    if (t.pods?.length) lines.push(`**Pods:** ${md(t.pods.map(nodePodLine).join('; '))}`);
  }
  if (s.failover) lines.push(`**Failover during the run:** ${s.failover}`);
  const lock = s.lock;
  if (lock?.behind) lines.push(`**Waiting for the target:** held by incident ${lock.behind.incidentId}`);
  if (lock && lock.linked.length > 0)
    lines.push(`**Linked incidents (waiting for this run):** ${lock.linked.map((l) => l.incidentId).join(', ')}`);
  if (lock?.breaker) lines.push(`**Circuit breaker open:** ${md(lock.breaker)}`);
  if (s.cancelled) lines.push(`**Cancelled** by ${md(s.cancelled.by)} at ${s.cancelled.at}: ${md(s.cancelled.reason)}`);
  if (s.findings.length > 0) {
    lines.push('', '**Findings**');
    for (const f of s.findings.slice(0, 10)) lines.push(`- ${f.severity.toUpperCase()}: ${md(f.message)}`);
    if (s.findings.length > 10) lines.push(`- … and ${s.findings.length - 10} more`);
  }
  if (s.plan) {
    lines.push('', `**Plan ${s.plan.id}**`);
    for (const a of s.plan.actions) {
      const done = s.results.find((r) => r.id === a.id);
      const mark = done ? (done.ok ? '✅' : '❌') : a.risk === 'risky' ? '⚠️' : '•';
      lines.push(`- ${mark} \`${a.id}\` (${a.risk}): ${md(a.summary)}`);
    }
  }
  if (s.backup)
    lines.push(
      '',
      `**Backup:** ${s.backup.confirmed ? `confirmed (LASTSAVE ${s.backup.lastSave})${s.backup.copy ? `, copied off the server to \`${s.backup.copy.path}\` and restore-tested (${s.backup.copy.restoreTest.keys} keys)` : ''}` : `FAILED: ${s.backup.error ?? s.backup.status}`}`,
    );
  if (s.awaitingApproval.length > 0 && s.backup && !s.backup.confirmed) {
    lines.push('', '**NO CONFIRMED BACKUP:** approving needs `overrideBackup: true` from two different approvers.');
  }
  if (s.awaitingApproval.length > 0) {
    lines.push('', `**Waiting for approval until ${s.approvalDeadline ?? '?'}:** ${s.awaitingApproval.join(', ')}`);
    lines.push(`Approve: \`runbook approve ${s.incidentId} --by <email> --plan ${s.plan?.id ?? ''} --sign <ssh key>\``);
  }
  for (const d of s.decisions.slice(-5)) {
    const proven = d.verified ? ` (proven: ${d.verified.by})` : '';
    lines.push(
      `- ${d.at} ${d.decision} by ${md(d.by)}${proven}: ${d.accepted ? 'accepted' : `refused (${md(d.refusal ?? '')})`}`,
    );
  }
  const refusals = s.refusals ?? [];
  if (refusals.length > 0) {
    const more = s.refusalsNotKept ? ` (+${s.refusalsNotKept} more, not kept)` : '';
    lines.push('', `**Refused decisions: ${refusals.length}${more}**`);
    for (const d of refusals.slice(-3)) lines.push(`- ${d.at} ${d.decision} by ${md(d.by)}: ${md(d.refusal ?? '')}`);
  }
  if (s.verification)
    lines.push(
      '',
      `**Verification:** ${s.verification.passed ? 'passed' : `failed: ${md(s.verification.reasons.join('; '))}`}`,
    );
  return lines.join('\n');
}
