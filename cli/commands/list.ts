import type { Client } from '@temporalio/client';
import { searchAttributes, WORKFLOW_TYPE } from '../../workflows/definitions.js';
import type { CommandContext } from '../client.js';

/** Options of `runbook list`. */
export interface ListOptions {
  /** Include closed runs. */
  all?: boolean;
  /** Most runs to show, newest first. Default 50. */
  limit?: number;
  json?: boolean;
}

/** One run as `runbook list` shows it, from the visibility store (search attributes), without asking a worker. */
export interface RunRow {
  incidentId: string;
  workflowId: string;
  status: string;
  phase?: string;
  outcome?: string;
  target?: string;
  startTime: string;
  closeTime?: string;
}

/** The visibility query `runbook list` runs. */
export function listQuery(all = false): string {
  return `WorkflowType = '${WORKFLOW_TYPE}'${all ? '' : ` AND ExecutionStatus = 'Running'`}`;
}

/** `runbook list`: runbook runs, open ones only unless `all`, newest first. */
export async function listCommand(client: Client, opts: ListOptions, ctx: CommandContext): Promise<RunRow[]> {
  const limit = opts.limit ?? 50;
  const rows: RunRow[] = [];
  for await (const info of client.workflow.list({ query: listQuery(opts.all), pageSize: Math.min(limit, 100) })) {
    const sa = info.typedSearchAttributes;
    const phase = sa.get(searchAttributes.phase);
    const outcome = sa.get(searchAttributes.outcome);
    const target = sa.get(searchAttributes.target);
    rows.push({
      incidentId: sa.get(searchAttributes.incidentId) ?? info.workflowId.replace(/^redis-runbook-/, ''),
      workflowId: info.workflowId,
      status: info.status.name,
      ...(phase ? { phase } : {}),
      ...(outcome ? { outcome } : {}),
      ...(target ? { target } : {}),
      startTime: info.startTime.toISOString(),
      ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
    });
    if (rows.length >= limit) break;
  }
  if (opts.json) ctx.out(JSON.stringify(rows, null, 2));
  else for (const line of renderRuns(rows, opts.all)) ctx.out(line);
  return rows;
}

/** Lines of the `runbook list` table. */
export function renderRuns(rows: RunRow[], all = false): string[] {
  if (rows.length === 0) return [all ? 'no runbook runs' : 'no open runbook runs (--all shows finished ones)'];
  const table = [
    ['INCIDENT', 'PHASE', 'OUTCOME', ...(all ? ['STATUS'] : []), 'STARTED', 'TARGET'],
    ...rows.map((r) => [
      r.incidentId,
      r.phase ?? '-',
      r.outcome ?? '-',
      ...(all ? [r.status.toLowerCase()] : []),
      r.startTime.replace(/\.\d+Z$/, 'Z'),
      r.target ?? '-',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}
