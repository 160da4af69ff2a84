/**
 * What the Kubernetes activities return: pod status and events, the classified previous log, requests and limits,
 * health samples. Small by design: all of it lands in workflow history.
 */

/** The workload a runbook action patches: a StatefulSet, or a Deployment found through its ReplicaSet. */
export interface WorkloadRef {
  kind: 'StatefulSet' | 'Deployment';
  name: string;
  namespace: string;
}

export interface ContainerStateSummary {
  state: 'running' | 'waiting' | 'terminated' | 'unknown';
  /** `CrashLoopBackOff`, `OOMKilled`, `Error`, `Completed`… */
  reason?: string;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface ContainerStatusSummary {
  name: string;
  ready: boolean;
  restartCount: number;
  state: ContainerStateSummary;
  lastState?: ContainerStateSummary;
}

export interface PodEventSummary {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastTimestamp?: string;
}

/** Step 1: what `kubectl describe pod` would tell an engineer. */
export interface PodDescription {
  namespace: string;
  name: string;
  phase: string;
  nodeName?: string;
  ready: boolean;
  conditions: Array<{ type: string; status: string; reason?: string }>;
  containers: ContainerStatusSummary[];
  /** Recent events of the pod, newest last, capped. */
  events: PodEventSummary[];
  /** Events that say a probe failed (`Unhealthy`). */
  failedProbes: number;
  /** Controller of the pod as its ownerReferences say (a ReplicaSet, a StatefulSet…). */
  owner?: { kind: string; name: string };
  /** How the pod is set up: what the deployment-config findings check (probes, limits, image, mounts). */
  spec?: PodSpecSummary;
}

/** A probe's timing (`kubectl explain pod.spec.containers.livenessProbe`). */
export interface ProbeSummary {
  kind: 'exec' | 'tcpSocket' | 'httpGet' | 'grpc' | 'unknown';
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}

export interface PodSpecSummary {
  containers: Array<{
    name: string;
    image: string;
    memoryRequestBytes?: number;
    memoryLimitBytes?: number;
    liveness?: ProbeSummary;
    readiness?: ProbeSummary;
    startup?: ProbeSummary;
    mounts: Array<{ volume: string; path: string; readOnly: boolean }>;
  }>;
  volumes: Array<{
    name: string;
    kind: 'persistentVolumeClaim' | 'emptyDir' | 'configMap' | 'secret' | 'other';
    claim?: string;
  }>;
  fsGroup?: number;
}

export type LogSignal =
  | 'oom-command-not-allowed'
  | 'misconf'
  | 'fork-cannot-allocate-memory'
  | 'permission-denied'
  | 'disk-full'
  | 'oom-killed-by-kernel'
  | 'aof-error';

/** Step 2: the previous container's log tail, classified. Only the last lines are kept. */
export interface LogClassification {
  available: boolean;
  /** Why no log was available (no previous container, pod gone…). */
  unavailableReason?: string;
  bytesRead: number;
  signals: Array<{ signal: LogSignal; count: number; example: string }>;
  lastLines: string[];
  /** The data Redis last loaded, from `RDB memory usage when created N Mb` (sizes a limit when Redis is down). */
  loadedDataBytes?: number;
  /** How long its last load took, from `DB loaded from disk: N seconds` (what a liveness probe must allow). */
  loadSeconds?: number;
}

/** Step 3: requests, limits and the workload that owns the pod. */
export interface ResourceLimits {
  container: string;
  requests: { memoryBytes?: number; cpu?: string };
  limits: { memoryBytes?: number; cpu?: string };
  /** The workload to restart or patch: StatefulSet or Deployment (through its ReplicaSet). */
  workload?: WorkloadRef;
}

export interface PodHealthSample {
  at: string;
  ready: boolean;
  restartCount: number;
  phase: string;
}
