import type { BackupResult } from '../../activities/redis/types.js';
import { redisBackup } from '../activities.js';
import { failureMessage, type Ending, type RunbookRun } from '../run-state.js';

/**
 * Runbook step 6: a confirmed backup before anything risky or destructive. Without one the run still asks (only an
 * override by two approvers then lets a risky action run), and ends here if nothing would ask.
 */
export async function backUp(run: RunbookRun): Promise<Ending | undefined> {
  const plan = run.status.plan!;
  if (run.needsApproval.length === 0 && !plan.actions.some((a) => a.destructive)) return undefined;
  await run.enter('backing-up');
  let backup: BackupResult;
  try {
    backup = await redisBackup.backupRedis.executeWithOptions({ summary: 'BGSAVE and confirm LASTSAVE advanced' }, [
      { redis: run.input.target.redis },
    ]);
  } catch (err) {
    backup = {
      confirmed: false,
      lastSave: 0,
      previousLastSave: 0,
      status: 'err',
      durationMs: 0,
      error: failureMessage(err),
    };
  }
  run.status.backup = backup;
  if (!backup.confirmed && run.needsApproval.length === 0)
    return {
      outcome: 'backup-failed',
      summary: `No confirmed backup (${backup.error ?? backup.status}): nothing was run.`,
    };
  return undefined;
}
