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

/** A node condition as `kubectl describe node` lists it. */
export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Live memory as `kubectl top` shows it (the `metrics.k8s.io` API), or why there is none. */
export type LiveMemory =
  | { available: true; nodeBytes?: number; podBytes?: number; containerBytes?: Record<string, number> }
  | { available: false; reason: string };

/** The pods of one node that still hold their memory (not Succeeded or Failed), and the ones it evicted. */
export interface NodePods {
  count: number;
  memoryRequestsBytes: number;
  memoryLimitsBytes: number;
  /** Of those pods, how many have a container without a memory limit (the node cannot bound them). */
  withoutMemoryLimit: number;
  /** Pods the kubelet evicted from this node (newest first, capped) and how many in all. */
  evicted: { count: number; pods: Array<{ namespace: string; name: string; message: string }> };
}

/** Step 4: the node the pod runs on, as `kubectl describe node` and `kubectl top` show it. */
export interface NodeDescription {
  name: string;
  /** `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, and whatever else the node reports. */
  conditions: NodeCondition[];
  allocatableMemoryBytes?: number;
  capacityMemoryBytes?: number;
  /** What the node's pods ask for and what it evicted, or why the runbook could not list them (RBAC). */
  pods: NodePods | { unavailable: string };
  /** The node's own events (`SystemOOM`, `OOMKilling`, `EvictionThresholdMet`, `NodeNotReady`…), newest last. */
  events: PodEventSummary[];
  eventsUnavailable?: string;
  metrics: LiveMemory;
}

/** Step 5: one PersistentVolumeClaim of the pod, as `kubectl get pvc` shows it. */
export interface ClaimSummary {
  name: string;
  /** `Bound`, `Pending`, `Lost`, or `Missing` when the claim the pod names does not exist. */
  phase: string;
  requestedBytes?: number;
  capacityBytes?: number;
  accessModes: string[];
  storageClass?: string;
  volumeName?: string;
  /** A resize the volume has not finished (`status.allocatedResourceStatuses`, `FileSystemResizePending`). */
  resizing?: string;
}

/** A Redis node of the set or Cluster, by the address Redis announces for it. */
export interface RedisNodeRef {
  host: string;
  port: number;
  role: 'primary' | 'replica';
}

/** The pod a Redis node runs in, and how that pod is: what `kubectl get pods -o wide` would say of it. */
export interface RedisNodePod {
  /** `host:port` of the node. */
  node: string;
  role: 'primary' | 'replica';
  /** Absent when no pod of the namespace has the node's address (or several have it and none declares its port). */
  pod?: string;
  phase?: string;
  ready?: boolean;
  restarts?: number;
  /** Why its container last ended (`OOMKilled`, `Error`), when it did. */
  lastTerminated?: string;
  nodeName?: string;
}
