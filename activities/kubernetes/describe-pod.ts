import type { CoreV1Api, CoreV1Event, V1ContainerState, V1Pod, V1Probe } from '@kubernetes/client-node';
import type {
  ContainerStateSummary,
  ContainerStatusSummary,
  PodDescription,
  PodEventSummary,
  PodSpecSummary,
  ProbeSummary,
} from './types.js';
import { parseMemoryBytes } from './quantity.js';
import { callApi } from './errors.js';

/** Events kept in a description, the newest ones. */
export const MAX_EVENTS = 20;

/** Longest event message kept: descriptions end up in workflow history. */
export const MAX_EVENT_MESSAGE_CHARS = 300;

function iso(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One container state as `kubectl describe` shows it, or undefined when the state is empty (`lastState: {}`). */
export function summarizeState(state: V1ContainerState | undefined): ContainerStateSummary | undefined {
  if (state?.terminated) {
    const t = state.terminated;
    return {
      state: 'terminated',
      ...(t.reason !== undefined && { reason: t.reason }),
      exitCode: t.exitCode,
      ...(t.startedAt !== undefined && { startedAt: iso(t.startedAt) }),
      ...(t.finishedAt !== undefined && { finishedAt: iso(t.finishedAt) }),
    };
  }
  if (state?.waiting) {
    return { state: 'waiting', ...(state.waiting.reason !== undefined && { reason: state.waiting.reason }) };
  }
  if (state?.running) {
    return {
      state: 'running',
      ...(state.running.startedAt !== undefined && { startedAt: iso(state.running.startedAt) }),
    };
  }
  return undefined;
}

/** Status of every container of the pod; containers without a status yet (pending pod) are `unknown`. */
export function summarizeContainers(pod: V1Pod): ContainerStatusSummary[] {
  const statuses = pod.status?.containerStatuses ?? [];
  const names = pod.spec?.containers.map((c) => c.name) ?? statuses.map((s) => s.name);
  return names.map((name) => {
    const status = statuses.find((s) => s.name === name);
    if (!status) return { name, ready: false, restartCount: 0, state: { state: 'unknown' } };
    const lastState = summarizeState(status.lastState);
    return {
      name,
      ready: status.ready,
      restartCount: status.restartCount,
      state: summarizeState(status.state) ?? { state: 'unknown' },
      ...(lastState && { lastState }),
    };
  });
}

/** Whether the pod's `Ready` condition is `True`. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The pod's controller (`controller: true`), else its first owner. */
export function podOwner(pod: V1Pod): { kind: string; name: string } | undefined {
  const refs = pod.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  return ref && { kind: ref.kind, name: ref.name };
}

function eventTime(event: CoreV1Event): number {
  const when = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return when === undefined ? 0 : new Date(when).getTime();
}

/** The newest {@link MAX_EVENTS} events, oldest first, messages truncated. */
export function summarizeEvents(events: CoreV1Event[]): PodEventSummary[] {
  return [...events]
    .sort((a, b) => eventTime(a) - eventTime(b))
    .slice(-MAX_EVENTS)
    .map((e) => {
      const last = iso(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp);
      return {
        type: e.type ?? 'Normal',
        reason: e.reason ?? '',
        message: truncate((e.message ?? '').trim(), MAX_EVENT_MESSAGE_CHARS),
        count: e.count ?? e.series?.count ?? 1,
        ...(last !== undefined && { lastTimestamp: last }),
      };
    });
}

/**
 * Builds the `describePod` activity: the pod's phase, conditions, container states and its recent events, like
 * `kubectl describe pod`.
 *
 * Throws an `ApplicationFailure` of type `PodNotFound` (non-retryable) when the pod does not exist, `Forbidden` when
 * RBAC refuses, and a retryable error when the API server cannot be reached.
 */
export function createDescribePod(core: CoreV1Api) {
  return async function describePod(input: { namespace: string; pod: string }): Promise<PodDescription> {
    const { namespace, pod: name } = input;
    const pod = await callApi({ verb: 'get', resource: 'pods', name, namespace }, () =>
      core.readNamespacedPod({ name, namespace }),
    );
    // The API server filters by field; only the Pod's own events, not those of a same-named StatefulSet or PVC.
    const events = await callApi({ verb: 'list', resource: 'events', namespace }, () =>
      core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=Pod` }),
    );
    const failedProbes = events.items
      .filter((e) => e.reason === 'Unhealthy')
      .reduce((sum, e) => sum + (e.count ?? e.series?.count ?? 1), 0);
    const owner = podOwner(pod);
    return {
      namespace,
      name,
      phase: pod.status?.phase ?? 'Unknown',
      ...(pod.spec?.nodeName !== undefined && { nodeName: pod.spec.nodeName }),
      ready: isPodReady(pod),
      conditions: (pod.status?.conditions ?? []).map((c) => ({
        type: c.type,
        status: c.status,
        ...(c.reason !== undefined && { reason: c.reason }),
      })),
      containers: summarizeContainers(pod),
      events: summarizeEvents(events.items),
      failedProbes,
      ...(owner && { owner }),
      spec: summarizeSpec(pod),
    };
  };
}

function probeOf(p: V1Probe | undefined): ProbeSummary | undefined {
  if (!p) return undefined;
  const kind = p.exec ? 'exec' : p.tcpSocket ? 'tcpSocket' : p.httpGet ? 'httpGet' : p.grpc ? 'grpc' : 'unknown';
  // The API's defaults where a field is unset.
  return {
    kind,
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/** The parts of the pod's spec the deployment-config findings read. */
export function summarizeSpec(pod: V1Pod): PodSpecSummary {
  const memory = (q: unknown) => (q === undefined ? undefined : parseMemoryBytes(q as string));
  return {
    containers: (pod.spec?.containers ?? []).map((c) => {
      const request = memory(c.resources?.requests?.['memory']);
      const limit = memory(c.resources?.limits?.['memory']);
      const liveness = probeOf(c.livenessProbe);
      const readiness = probeOf(c.readinessProbe);
      const startup = probeOf(c.startupProbe);
      return {
        name: c.name,
        image: c.image ?? '',
        ...(request !== undefined && { memoryRequestBytes: request }),
        ...(limit !== undefined && { memoryLimitBytes: limit }),
        ...(liveness && { liveness }),
        ...(readiness && { readiness }),
        ...(startup && { startup }),
        mounts: (c.volumeMounts ?? []).map((m) => ({
          volume: m.name,
          path: m.mountPath,
          readOnly: m.readOnly ?? false,
        })),
      };
    }),
    volumes: (pod.spec?.volumes ?? []).map((v) => {
      const kind = v.persistentVolumeClaim
        ? 'persistentVolumeClaim'
        : v.emptyDir
          ? 'emptyDir'
          : v.configMap
            ? 'configMap'
            : v.secret
              ? 'secret'
              : 'other';
      return { name: v.name, kind, ...(v.persistentVolumeClaim && { claim: v.persistentVolumeClaim.claimName }) };
    }),
    ...(pod.spec?.securityContext?.fsGroup !== undefined && { fsGroup: pod.spec.securityContext.fsGroup }),
  };
}
