/**
 * Which incidents are Redis incidents, and which Redis they are about. Pure: the receiver fetches the alerts and
 * hands them in. The Redis address always comes from configuration (a `targets` entry for the routed pod, else the
 * service's), never from an alert, so whoever can send events to PagerDuty cannot point the runbook elsewhere.
 */
import type { IncidentAlert } from './client.js';
import type { ServiceRoute, TargetConfig } from '../../config/runbook-file.js';
import type { RedisAddress, RunbookTarget } from '../../workflows/definitions.js';

/** Where the target came from, recorded in the run as `targetSource`. */
export type TargetSource = 'alert' | 'service' | 'title';

export type Route =
  | { kind: 'routed'; target: RunbookTarget; source: TargetSource; service: ServiceRoute; cleanup: string[] }
  /** The incident's service is not a configured Redis service: not ours, nothing to say. */
  | { kind: 'not-ours' }
  /** A Redis service, but no namespace and pod could be found: the incident gets a note saying so. */
  | { kind: 'unroutable'; reason: string };

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function k8sName(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 253 && K8S_NAME.test(v) ? v : undefined;
}

/** Namespace, pod and container from one alert's `body.details`, flat or under `labels` (Alertmanager). */
function fromDetails(details: unknown): { namespace?: string; pod?: string; container?: string } {
  if (!details || typeof details !== 'object') return {};
  const d = details as Record<string, unknown>;
  const labels = (d.labels && typeof d.labels === 'object' ? d.labels : {}) as Record<string, unknown>;
  const pick = (key: string) => k8sName(d[key]) ?? k8sName(labels[key]);
  const namespace = pick('namespace');
  const pod = pick('pod');
  const container = pick('container');
  return {
    ...(namespace ? { namespace } : {}),
    ...(pod ? { pod } : {}),
    ...(container ? { container } : {}),
  };
}

/** `namespace/pod` and an optional `(container)` in a title such as `KubePodCrashLooping: prod/redis-0 (redis)`. */
export function parseTitle(
  title: string | undefined,
): { namespace: string; pod: string; container?: string } | undefined {
  if (!title) return undefined;
  const m =
    /(?:^|[\s:[(])([a-z0-9][-a-z0-9]{0,62})\/([a-z0-9][-a-z0-9.]{0,251}[a-z0-9])(?:\s*\(([a-z0-9][-a-z0-9]{0,62})\))?/.exec(
      title,
    );
  if (!m) return undefined;
  return { namespace: m[1]!, pod: m[2]!, ...(m[3] ? { container: m[3] } : {}) };
}

/**
 * Key patterns an alert asks to clean up (`details.cleanup`: a string or a list of strings). Only asked for: the run
 * previews each, the policy refuses broad ones, and nothing is deleted without an approval that names it.
 */
export function cleanupFromDetails(details: unknown): string[] {
  if (!details || typeof details !== 'object') return [];
  const value = (details as Record<string, unknown>).cleanup;
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return list.filter((p): p is string => typeof p === 'string' && p.length > 0 && p.length <= 200).slice(0, 10);
}

function knownTarget(namespace: string, pod: string, targets: TargetConfig[]): TargetConfig | undefined {
  return targets.find((t) => t.namespace === namespace && t.pod === pod);
}

function redisFor(namespace: string, pod: string, service: ServiceRoute, targets: TargetConfig[]): RedisAddress {
  const r = knownTarget(namespace, pod, targets)?.redis ?? service.redis;
  return { host: r.host, port: r.port, ...(r.db !== undefined ? { db: r.db } : {}) };
}

/**
 * Routes an incident: its service must be configured; the target is read from the alerts' details (first alert
 * naming a pod), else the service's default, else the title.
 * @param alerts the incident's alerts, or `undefined` when they could not be read (routing goes on without them).
 */
export function routeIncident(
  incident: { id: string; title?: string; service?: { id: string } },
  alerts: IncidentAlert[] | undefined,
  services: ServiceRoute[],
  targets: TargetConfig[],
): Route {
  const service = services.find((s) => s.id === incident.service?.id);
  if (!service) return { kind: 'not-ours' };
  const asked = [...new Set((alerts ?? []).flatMap((a) => cleanupFromDetails(a.body?.details)))];
  const build = (namespace: string, pod: string, container: string | undefined, source: TargetSource): Route => {
    const c = container ?? service.container;
    const configured = knownTarget(namespace, pod, targets)?.cleanup ?? [];
    return {
      kind: 'routed',
      source,
      service,
      cleanup: [...new Set([...configured, ...asked])],
      target: { namespace, pod, ...(c ? { container: c } : {}), redis: redisFor(namespace, pod, service, targets) },
    };
  };
  for (const alert of alerts ?? []) {
    const d = fromDetails(alert.body?.details);
    const namespace = d.namespace ?? service.namespace;
    if (d.pod && namespace) return build(namespace, d.pod, d.container, 'alert');
  }
  if (service.namespace && service.pod) return build(service.namespace, service.pod, service.container, 'service');
  const t = parseTitle(incident.title);
  if (t) return build(t.namespace, t.pod, t.container, 'title');
  return {
    kind: 'unroutable',
    reason:
      `no namespace/pod in the alerts' details${alerts ? '' : ' (alerts unreadable)'}, ` +
      `no default pod on service ${service.id}, and none in the title`,
  };
}
