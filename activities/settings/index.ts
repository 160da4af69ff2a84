import type { RunbookSettings } from './types.js';

/**
 * The worker's settings (approval policy, thresholds, verify window) as an activity, so each run records the settings
 * it ran under in its history and replays with them, even after the worker's configuration changed.
 */
export function createSettingsActivities(settings: RunbookSettings) {
  return {
    loadSettings(): Promise<RunbookSettings> {
      return Promise.resolve(settings);
    },
  };
}
