import type { Client } from '@temporalio/client';
import { listRuns, type ListRunsOptions, type RunRow } from '../../client/index.js';
import type { CommandContext } from '../client.js';

/** Options of `runbook list`. */
export interface ListOptions extends ListRunsOptions {
  json?: boolean;
}

/** `runbook list`: runbook runs, open ones only unless `all`, newest first. */
export async function listCommand(client: Client, opts: ListOptions, ctx: CommandContext): Promise<RunRow[]> {
  const rows = await listRuns(client, opts);
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
