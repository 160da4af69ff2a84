/** Container logs as the kubelet serves them through the API server: current or previous, `tailLines`, `limitBytes`. */
import type { ClusterController } from './controller.js';
import { HttpError } from './status.js';

function lastLines(text: string, count: number): string {
  if (count === 0) return '';
  const lines = text.split(/(?<=\n)/);
  return lines.slice(-count).join('');
}

/** A whole-number query parameter of at least `min`, or a 422 naming it as the API server does. */
function countParam(query: URLSearchParams, param: string, min: 0 | 1, pod: string): number | undefined {
  const text = query.get(param);
  if (text === null) return undefined;
  const count = Number(text);
  if (!Number.isInteger(count) || count < min) {
    const bound = min === 0 ? 'greater than or equal to 0' : 'greater than 0';
    throw new HttpError(
      422,
      'Invalid',
      `PodLogOptions "${pod}" is invalid: ${param}: Invalid value: ${text}: must be ${bound}`,
    );
  }
  return count;
}

/** The log of one container of pod `ns/name`; a 400 or 422 `Status` where the API server answers one. */
export function podLog(cluster: ClusterController, ns: string, name: string, query: URLSearchParams): Buffer {
  const p = cluster.podOrThrow(ns, name);
  const names = p.spec.containers.map((c) => c.name);
  let containerName = query.get('container') ?? undefined;
  if (containerName === undefined) {
    if (names.length > 1) {
      throw new HttpError(
        400,
        'BadRequest',
        `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
      );
    }
    containerName = names[0] ?? '';
  }
  if (!names.includes(containerName)) {
    throw new HttpError(400, 'BadRequest', `container ${containerName} is not valid for pod ${name}`);
  }
  const status = p.status?.containerStatuses?.find((s) => s.name === containerName);
  const key = `${ns}/${name}/${containerName}`;
  let text: string;
  if (query.get('previous') === 'true') {
    if (!status?.lastState?.terminated) {
      throw new HttpError(
        400,
        'BadRequest',
        `previous terminated container "${containerName}" in pod "${name}" not found`,
      );
    }
    text = cluster.state.previousLogs[key] ?? '';
  } else {
    const waiting = status?.state?.waiting;
    if (!status || (waiting && status.restartCount === 0)) {
      throw new HttpError(
        400,
        'BadRequest',
        `container "${containerName}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`,
      );
    }
    text = cluster.state.logs[key] ?? '';
  }
  const tail = countParam(query, 'tailLines', 0, name);
  if (tail !== undefined) text = lastLines(text, tail);
  let bytes = Buffer.from(text, 'utf8');
  const limit = countParam(query, 'limitBytes', 1, name);
  if (limit !== undefined) bytes = bytes.subarray(0, limit);
  return bytes;
}
