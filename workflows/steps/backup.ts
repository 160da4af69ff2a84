import { patched } from '@temporalio/workflow';
import type { BackupResult } from '../../activities/redis/types.js';
import { backupStore, redisBackup } from '../activities.js';
import { BACKUP_COPY_PATCH, targetLabel } from '../definitions.js';
import { failureMessage, type Ending, type RunbookRun } from '../run-state.js';

/**
 * Runbook step 6: a confirmed backup before anything risky or destructive. Without one the run still asks (only an
 * override by two approvers then lets a risky action run), and ends here if nothing would ask.
 */
export async function backUp(run: RunbookRun): Promise<Ending | undefined> {
  const plan = run.status.plan!;
  if (run.needsApproval.length === 0 && !plan.actions.some((a) => a.destructive)) return undefined;
  // Redis is down, so no backup can be taken, and the plan only changes the pod (nothing destructive): it goes on.
  if (run.withoutRedis && !plan.actions.some((a) => a.destructive)) return undefined;
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
  if (backup.confirmed && run.v2 && patched(BACKUP_COPY_PATCH)) await copyOffTheServer(run, backup);
  run.status.backup = backup;
  if (!backup.confirmed && run.needsApproval.length === 0)
    return {
      outcome: 'backup-failed',
      summary: `No confirmed backup (${backup.error ?? backup.status}): nothing was run.`,
    };
  return undefined;
}

/**
 * "Backups beat regret" only if the backup survives the pod: the snapshot is streamed off the server into the backup
 * store and restore-tested. Only a verified copy leaves the backup confirmed; the incident is told where it is.
 */
async function copyOffTheServer(run: RunbookRun, backup: BackupResult): Promise<void> {
  const { input } = run;
  try {
    backup.copy = await backupStore.copyBackup.executeWithOptions(
      { summary: 'copy the snapshot off the server and restore-test it' },
      [{ redis: input.target.redis, incidentId: input.incidentId, target: targetLabel(input.target) }],
    );
    if (!backup.copy.verified) {
      backup.confirmed = false;
      backup.error = `the copy failed its restore test: ${backup.copy.restoreTest.reason ?? 'unknown'}`;
    }
  } catch (err) {
    backup.confirmed = false;
    backup.error = `the snapshot could not be copied off the server: ${failureMessage(err)}`;
  }
  await run.tell({
    type: 'backup-copied',
    ...(backup.copy ? { copy: backup.copy } : {}),
    ...(backup.error ? { error: backup.error } : {}),
  });
}
