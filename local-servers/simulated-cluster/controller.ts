/**
 * What the cluster's controllers and kubelet would do with the scenario's objects: versions, events, and the rollout a
 * pod-template change sets off (each pod replaced, Running and ready with a fresh container; `Killing`/`Started`
 * events). Works on its own copy of the scenario.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { WorkloadRef } from '../../activities/kubernetes/types.js';
import { applyPatch, isPlainObject } from './patch.js';
import { ScenarioSchema, type Scenario, type ScenarioPod, type Workload } from './scenario.js';
import { HttpError, notFound } from './status.js';

type Named = { metadata: { name: string; namespace: string } };

export class ClusterController {
  readonly state: Scenario;
  private resourceVersion = 1000;

  constructor(scenario: Scenario) {
    this.state = structuredClone(scenario);
  }

  /** The list's `metadata.resourceVersion`: the newest version handed out. */
  get listVersion(): string {
    return String(this.resourceVersion);
  }

  nextVersion(): string {
    return String(++this.resourceVersion);
  }

  inNamespace<T extends Named>(items: T[], ns: string): T[] {
    return items.filter((item) => item.metadata.namespace === ns);
  }

  find<T extends Named>(items: T[], ns: string, name: string): T | undefined {
    return items.find((item) => item.metadata.namespace === ns && item.metadata.name === name);
  }

  podOrThrow(ns: string, name: string): ScenarioPod {
    const found = this.find(this.state.pods, ns, name);
    if (!found) throw notFound('pods', name);
    return found;
  }

  private addEvent(
    involved: { kind: string; name: string; namespace: string; apiVersion: string; fieldPath?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
  ): void {
    const now = new Date().toISOString();
    this.state.events.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${involved.name}.${randomBytes(8).toString('hex')}`,
        namespace: involved.namespace,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: now,
      },
      involvedObject: involved,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component },
    });
  }

  private podsOf(kind: string, ns: string, name: string): ScenarioPod[] {
    const ownedBy = (refs: { kind: string; name: string }[] | undefined, k: string, n: string) =>
      refs?.some((r) => r.kind === k && r.name === n) ?? false;
    if (kind === 'StatefulSet')
      return this.inNamespace(this.state.pods, ns).filter((p) => ownedBy(p.metadata.ownerReferences, kind, name));
    const replicaSets = this.inNamespace(this.state.replicaSets, ns).filter((rs) =>
      ownedBy(rs.metadata.ownerReferences, kind, name),
    );
    return this.inNamespace(this.state.pods, ns).filter((p) =>
      replicaSets.some((rs) => ownedBy(p.metadata.ownerReferences, 'ReplicaSet', rs.metadata.name)),
    );
  }

  /** What the controller and kubelet would do after a template change: replace each pod with a healthy one. */
  private rollOut(kind: WorkloadRef['kind'], target: Workload): void {
    const { namespace: ns, name } = target.metadata;
    const template = target.spec.template;
    for (const p of this.podsOf(kind, ns, name)) {
      const podName = p.metadata.name;
      for (const c of p.spec.containers) {
        this.addEvent(
          { kind: 'Pod', name: podName, namespace: ns, apiVersion: 'v1', fieldPath: `spec.containers{${c.name}}` },
          'Normal',
          'Killing',
          `Stopping container ${c.name}`,
          'kubelet',
        );
      }
      if (kind === 'StatefulSet') {
        for (const [reason, verb] of [
          ['SuccessfulDelete', 'delete'],
          ['SuccessfulCreate', 'create'],
        ] as const) {
          this.addEvent(
            { kind, name, namespace: ns, apiVersion: 'apps/v1' },
            'Normal',
            reason,
            `${verb} Pod ${podName} in StatefulSet ${name} successful`,
            'statefulset-controller',
          );
        }
      }
      const now = new Date().toISOString();
      p.metadata.uid = randomUUID();
      p.metadata.creationTimestamp = now;
      p.metadata.resourceVersion = this.nextVersion();
      p.metadata.annotations = { ...p.metadata.annotations, ...template.metadata?.annotations };
      p.spec.containers = structuredClone(template.spec.containers);
      p.status = {
        phase: 'Running',
        startTime: now,
        conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
          type,
          status: 'True' as const,
          lastTransitionTime: now,
        })),
        containerStatuses: p.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
          lastState: {},
        })),
      };
      for (const key of Object.keys(this.state.previousLogs)) {
        if (key.startsWith(`${ns}/${podName}/`)) delete this.state.previousLogs[key];
      }
      for (const c of p.spec.containers) {
        const ref = {
          kind: 'Pod',
          name: podName,
          namespace: ns,
          apiVersion: 'v1',
          fieldPath: `spec.containers{${c.name}}`,
        };
        this.addEvent(ref, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, 'kubelet');
        this.addEvent(ref, 'Normal', 'Created', `Created container ${c.name}`, 'kubelet');
        this.addEvent(ref, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet');
      }
    }
    const replicas = target.spec.replicas ?? 1;
    target.status = {
      ...target.status,
      observedGeneration: target.metadata.generation,
      replicas,
      readyReplicas: replicas,
      ...(kind === 'StatefulSet'
        ? {
            currentReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: `${name}-${randomBytes(5).toString('hex')}`,
          }
        : { updatedReplicas: replicas, availableReplicas: replicas }),
    };
  }

  patchWorkload(kind: WorkloadRef['kind'], target: Workload, contentType: string, body: unknown): Workload {
    const patched = applyPatch(target, contentType, body);
    const wanted =
      isPlainObject(body) && isPlainObject(body['metadata']) ? body['metadata']['resourceVersion'] : undefined;
    if (typeof wanted === 'string' && wanted !== target.metadata.resourceVersion) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${kind === 'StatefulSet' ? 'statefulsets' : 'deployments'}.apps "${target.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const schema =
      kind === 'StatefulSet'
        ? ScenarioSchema.shape.statefulSets.unwrap().element
        : ScenarioSchema.shape.deployments.unwrap().element;
    const checked = schema.safeParse(patched);
    if (!checked.success) {
      throw new HttpError(
        422,
        'Invalid',
        `${kind} "${target.metadata.name}" is invalid: ${checked.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    const next: Workload = checked.data;
    next.metadata.name = target.metadata.name;
    next.metadata.namespace = target.metadata.namespace;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(target.spec);
    next.metadata.resourceVersion = this.nextVersion();
    if (specChanged) next.metadata.generation = (target.metadata.generation ?? 1) + 1;

    const list: Workload[] = kind === 'StatefulSet' ? this.state.statefulSets : this.state.deployments;
    list[list.indexOf(target)] = next;
    // As the real controllers: any pod-template change (a restart annotation, a new memory limit) rolls the pods.
    if (JSON.stringify(next.spec.template) !== JSON.stringify(target.spec.template)) this.rollOut(kind, next);
    return next;
  }
}
