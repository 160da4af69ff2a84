/**
 * kwok's configuration for the test cluster: the lifecycle stages it plays on its fake nodes' pods, and where the
 * previous-container logs of each pod come from (`Logs` objects with `previousLogsFile`).
 */
import { stringify } from 'yaml';

/** Annotation of the fake node kwok manages (`--manage-nodes-with-annotation-selector`). */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/**
 * A pod with this annotation keeps the status the test writes through the status subresource: kwok's pod-ready stage
 * skips it (deletion still completes), so an OOMKilled `lastState` or a crash loop is not overwritten with "Running".
 */
export const SCRIPTED_STATUS_ANNOTATION = 'redis-runbook.test/scripted-status';

/** Log files kwok serves for one container (`kubectl logs [--previous]`). */
export interface ContainerLogFiles {
  namespace: string;
  pod: string;
  container: string;
  /** Served for `previous=true`; absent means the kubelet has no previous container to show. */
  previousLogsFile?: string;
  logsFile: string;
}

const STAGE_API = 'kwok.x-k8s.io/v1alpha1';

// Node: Ready at once, reachable for logs at kwok's own address and port (NodeIP/NodePort come from the flags).
const nodeInitialize = {
  apiVersion: STAGE_API,
  kind: 'Stage',
  metadata: { name: 'node-initialize' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Node' },
    selector: {
      matchExpressions: [
        { key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: 'NotIn', values: ['True'] },
      ],
    },
    next: {
      statusTemplate: `{{ $now := Now }}
conditions:
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
  message: kwok fake node is ready
  reason: KubeletReady
  status: "True"
  type: Ready
addresses:
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ NodeName | Quote }}
  type: Hostname
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ NodePort }}
allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
capacity: {cpu: "32", memory: 128Gi, pods: "110"}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: ""
  kubeProxyVersion: ""
  bootID: ""
  machineID: ""
  osImage: ""
  systemUUID: ""
phase: Running
`,
    },
  },
};

// Pod: Pending → Running and ready with an IP of kwok's pod CIDR, unless the test scripts its status.
const podReady = {
  apiVersion: STAGE_API,
  kind: 'Stage',
  metadata: { name: 'pod-ready' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' },
    selector: {
      matchExpressions: [
        { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
        { key: `.metadata.annotations["${SCRIPTED_STATUS_ANNOTATION}"]`, operator: 'DoesNotExist' },
        { key: '.status.phase', operator: 'In', values: ['Pending'] },
        { key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: 'NotIn', values: ['True'] },
      ],
    },
    next: {
      statusTemplate: `{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
hostIP: {{ NodeIP | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
`,
    },
  },
};

// Pod deletion: what the kubelet confirms after the containers stopped, for scripted pods too.
const podDelete = {
  apiVersion: STAGE_API,
  kind: 'Stage',
  metadata: { name: 'pod-delete' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' },
    selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
    next: { delete: true },
  },
};

/** kwok's `--config` file: the three stages and one `Logs` object per pod with log files. */
export function kwokConfigYaml(logs: ContainerLogFiles[]): string {
  const byPod = new Map<string, ContainerLogFiles[]>();
  for (const l of logs) {
    const key = `${l.namespace}/${l.pod}`;
    byPod.set(key, [...(byPod.get(key) ?? []), l]);
  }
  const logObjects = [...byPod.values()].map((containers) => ({
    apiVersion: STAGE_API,
    kind: 'Logs',
    metadata: { name: containers[0]?.pod, namespace: containers[0]?.namespace },
    spec: {
      logs: containers.map((c) => ({
        containers: [c.container],
        logsFile: c.logsFile,
        ...(c.previousLogsFile !== undefined && { previousLogsFile: c.previousLogsFile }),
      })),
    },
  }));
  return [nodeInitialize, podReady, podDelete, ...logObjects].map((doc) => stringify(doc)).join('---\n');
}
