import { decodePendingActivityState, defaultPayloadConverter, type Client } from '@temporalio/client';
import { optionalTsToDate } from '@temporalio/common';
import { searchAttributes, statusQuery, toWorkflowId } from '../../workflows/definitions.js';
import type { RunbookStatus } from '../../workflows/definitions.js';
import { nodePodLine } from '../../workflows/logic/topology.js';
import { uiLink } from '../../client/index.js';
import type { CommandContext } from '../client.js';

/** Options of `runbook status`. */
export interface StatusOptions {
  /** Incident id or workflow id. */
  id: string;
  json?: boolean;
  /** How long the `status` query may wait for a worker, in ms. Default 10 s. */
  queryTimeoutMs?: number;
}

/** An activity the run is inside, as `describe()` reports it. */
export interface PendingActivityView {
  activityType: string;
  attempt: number;
  state: string;
  lastHeartbeatTime?: string;
  /** Decoded heartbeat details (the activity's progress), when it heartbeats. */
  heartbeat?: unknown;
  lastFailure?: string;
}

/** Everything `runbook status` shows. `status` is absent when no worker answered the query. */
export interface StatusView {
  workflowId: string;
  runId: string;
  execution: { status: string; startTime: string; closeTime?: string };
  /** Phase and outcome from the search attributes, available even when the query is not. */
  phase?: string;
  outcome?: string;
  status?: RunbookStatus;
  statusError?: string;
  pendingActivities: PendingActivityView[];
  uiUrl: string;
}

function compact(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Reads a run's state: `describe()` (execution status, pending activities with heartbeat details) and the `status`
 * query. Prints it readably, or as one JSON document with `json`.
 * @throws {WorkflowNotFoundError} when there is no such run (exit code 4).
 */
export async function statusCommand(client: Client, opts: StatusOptions, ctx: CommandContext): Promise<StatusView> {
  const workflowId = toWorkflowId(opts.id);
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const pendingActivities = (description.raw.pendingActivities ?? []).map((a): PendingActivityView => {
    const heartbeatPayloads = a.heartbeatDetails?.payloads ?? [];
    const heartbeat = heartbeatPayloads.map((p) => defaultPayloadConverter.fromPayload(p));
    const lastHeartbeat = optionalTsToDate(a.lastHeartbeatTime);
    return {
      activityType: a.activityType?.name ?? '?',
      attempt: a.attempt ?? 1,
      state: decodePendingActivityState(a.state) ?? 'UNKNOWN',
      ...(lastHeartbeat ? { lastHeartbeatTime: lastHeartbeat.toISOString() } : {}),
      ...(heartbeat.length > 0 ? { heartbeat: heartbeat.length === 1 ? heartbeat[0] : heartbeat } : {}),
      ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
    };
  });
  const view: StatusView = {
    workflowId,
    runId: description.runId,
    execution: {
      status: description.status.name,
      startTime: description.startTime.toISOString(),
      ...(description.closeTime ? { closeTime: description.closeTime.toISOString() } : {}),
    },
    pendingActivities,
    uiUrl: uiLink(ctx.settings, workflowId),
  };
  const phase = description.typedSearchAttributes.get(searchAttributes.phase);
  const outcome = description.typedSearchAttributes.get(searchAttributes.outcome);
  if (phase) view.phase = phase;
  if (outcome) view.outcome = outcome;
  try {
    // A query needs a worker; without one it would wait for the server's own timeout.
    view.status = await client.withDeadline(Date.now() + (opts.queryTimeoutMs ?? 10_000), () =>
      client.workflow.getHandle(workflowId, description.runId).query(statusQuery),
    );
  } catch (err) {
    view.statusError =
      `no answer to the status query (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): ` +
      'is `runbook worker` running?';
  }
  if (opts.json) ctx.out(JSON.stringify(view, null, 2));
  else for (const line of renderStatus(view)) ctx.out(line);
  return view;
}

/** The lines `runbook status` prints for a {@link StatusView}. */
export function renderStatus(view: StatusView): string[] {
  const lines: string[] = [];
  const s = view.status;
  lines.push(`${view.workflowId} (${view.execution.status.toLowerCase()}, started ${view.execution.startTime})`);
  lines.push(`  ${view.uiUrl}`);
  if (!s) {
    lines.push(`  phase: ${view.phase ?? '?'}  outcome: ${view.outcome ?? '?'} (from search attributes)`);
    if (view.statusError) lines.push(`  ${view.statusError}`);
  } else {
    const t = s.target;
    lines.push(`  phase: ${s.phase}  outcome: ${s.outcome}`);
    lines.push(
      `  target: ${t.namespace}/${t.pod}${t.container ? ` (${t.container})` : ''} redis ${t.redis.host}:${t.redis.port}` +
        `${t.redis.db !== undefined ? `/${t.redis.db}` : ''}  started by ${s.startedBy}`,
    );
    if (s.findings.length > 0) {
      lines.push('findings:');
      for (const f of s.findings) lines.push(`  [${f.severity}] ${f.id}: ${f.message}`);
    }
    if (s.plan) {
      lines.push(`plan ${s.plan.id}:`);
      for (const a of s.plan.actions) {
        lines.push(`  ${a.id} (${a.risk}${a.destructive ? ', destructive' : ''}): ${a.summary}`);
      }
      for (const advice of s.plan.persistAdvice) lines.push(`  persist: ${advice}`);
      for (const advice of s.plan.appAdvice ?? []) lines.push(`  application: ${advice}`);
      for (const advice of s.plan.outsideAdvice ?? []) lines.push(`  outside Redis: ${advice}`);
    }
    if (s.awaitingApproval.length > 0) {
      lines.push(
        `awaiting approval: ${s.awaitingApproval.join(', ')}${s.approvalDeadline ? ` (deadline ${s.approvalDeadline})` : ''}`,
      );
      if (s.plan) lines.push(`  runbook approve ${view.workflowId} --plan ${s.plan.id} --by <email>`);
    }
    if (s.decisions.length > 0) {
      lines.push('decisions:');
      for (const d of s.decisions) {
        const verdict = d.accepted ? d.decision : `${d.decision} REFUSED (${d.refusal ?? 'no reason given'})`;
        const scope = d.actions ? ` [${d.actions.join(', ')}]` : '';
        lines.push(
          `  ${d.at} ${verdict}${scope} by ${d.by}${d.via ? ` via ${d.via}` : ''}${d.reason ? `: ${d.reason}` : ''}`,
        );
      }
    }
    if (s.backup) {
      const b = s.backup;
      lines.push(
        `backup: ${b.confirmed ? 'confirmed' : 'NOT confirmed'} (${b.status}, ${b.durationMs} ms` +
          `${b.rdbBytes !== undefined ? `, ${b.rdbBytes} bytes` : ''})${b.error ? `: ${b.error}` : ''}`,
      );
      const c = b.copy;
      if (c) {
        const t = c.restoreTest;
        lines.push(
          `  copy off the server: ${c.path} (${c.bytes} bytes, CRC-64 ${c.crc64}, sha256 ${c.sha256}) ` +
            `${c.verified ? 'verified' : 'NOT verified'}: restore test ${t.ok ? 'passed' : `failed (${t.reason ?? '?'})`}, ` +
            `${t.keys} keys loaded in ${t.loadMs} ms, ${t.typesMatched} of ${t.sampled} sampled types matched`,
        );
      }
    }
    const topo = s.topology;
    if (topo && topo.kind !== 'standalone') {
      lines.push(
        `topology: ${topo.kind}, primary ${topo.primaries.join(', ')}, ${topo.replicas} replica(s), ${topo.inSync} in sync` +
          `${topo.scannedOn ? `; ${topo.scannedOn}` : ''}`,
      );
      for (const note of topo.notes) lines.push(`  ${note}`);
      for (const pod of topo.pods ?? []) lines.push(`  ${nodePodLine(pod)}`);
    }
    if (s.failover) lines.push(`failover during the run: ${s.failover}`);
    if (s.results.length > 0) {
      lines.push('results:');
      for (const r of s.results) {
        const figures = [
          r.keysTouched !== undefined ? `${r.keysTouched} keys` : '',
          r.bytesFreed !== undefined ? `${r.bytesFreed} bytes freed` : '',
        ].filter(Boolean);
        lines.push(
          `  ${r.ok ? 'ok' : 'FAILED'} ${r.id}: ${r.detail}${figures.length ? ` (${figures.join(', ')})` : ''}`,
        );
      }
    }
    if (s.verification) {
      const v = s.verification;
      lines.push(`verification: ${v.passed ? 'passed' : 'FAILED'} (${v.podSamples.length} pod samples)`);
      for (const reason of v.reasons) lines.push(`  ${reason}`);
    }
  }
  if (view.pendingActivities.length > 0) {
    lines.push('in progress:');
    for (const a of view.pendingActivities) {
      lines.push(
        `  ${a.activityType} attempt ${a.attempt} ${a.state.toLowerCase()}` +
          `${a.lastHeartbeatTime ? ` heartbeat ${a.lastHeartbeatTime}` : ''}` +
          `${a.heartbeat !== undefined ? ` ${compact(a.heartbeat)}` : ''}` +
          `${a.lastFailure ? ` last failure: ${a.lastFailure}` : ''}`,
      );
    }
  }
  return lines;
}
