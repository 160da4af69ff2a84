/**
 * The PagerDuty side of an incident's intake: reading its alerts to route it, and the note that says when it cannot
 * be routed. Run by the intake workflow, so the receiver's answer to PagerDuty never waits on PagerDuty's API.
 */
import type { ServiceRoute, TargetConfig } from '../../config/runbook-file.js';
import type { IntakeInput, RunbookTarget } from '../../workflows/definitions.js';
import type { PagerDutyClient } from './client.js';
import { routeIncident, type TargetSource } from './routing.js';

export interface IntakeDependencies {
  /** Absent without `PAGERDUTY_API_TOKEN` and `PAGERDUTY_FROM_EMAIL`: routing by service and title, no note. */
  pagerduty?: Pick<PagerDutyClient, 'getIncidentAlerts' | 'addNoteOnce'>;
  services: ServiceRoute[];
  targets: TargetConfig[];
}

/** A route as it crosses into the workflow: the target and where it came from, no configuration beyond it. */
export type IncidentRoute =
  | { kind: 'routed'; target: RunbookTarget; source: TargetSource; cleanup: string[] }
  | { kind: 'not-ours' }
  | { kind: 'unroutable'; reason: string };

export function createIntakeActivities(deps: IntakeDependencies) {
  return {
    /**
     * Routes the incident by the worker's configuration: from its alerts' details when `withAlerts` (a failure to
     * read them fails the attempt, so Temporal retries it), else from the service's default pod and the title.
     * Read-only, so a retry is harmless.
     */
    async routePagerDutyIncident(ask: {
      incident: IntakeInput['incident'];
      withAlerts: boolean;
    }): Promise<IncidentRoute> {
      const { incident } = ask;
      const alerts = ask.withAlerts && deps.pagerduty ? await deps.pagerduty.getIncidentAlerts(incident.id) : undefined;
      const route = routeIncident(
        { id: incident.id, ...(incident.title ? { title: incident.title } : {}), service: { id: incident.serviceId } },
        alerts,
        deps.services,
        deps.targets,
      );
      if (route.kind !== 'routed') return route;
      return { kind: 'routed', target: route.target, source: route.source, cleanup: route.cleanup };
    },

    /** A note on the incident, once per marker (a retry finds the note it already wrote). False without a client. */
    async noteIncident(note: { incidentId: string; content: string; marker: string }): Promise<boolean> {
      if (!deps.pagerduty) return false;
      await deps.pagerduty.addNoteOnce(note.incidentId, note.content, note.marker);
      return true;
    },
  };
}
