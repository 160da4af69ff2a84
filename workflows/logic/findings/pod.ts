import { unavailable } from './model.js';
import type { Finding, Rule } from './model.js';

export const podRules: Rule = (e) => {
  const pod = e.pod;
  if (!pod) return unavailable('pod-unavailable', 'warning', 'Could not describe the pod', e.podError);
  const out: Finding[] = [];
  for (const c of pod.containers) {
    const last = c.lastState;
    if (last?.reason === 'OOMKilled' || last?.exitCode === 137) {
      out.push({
        id: 'pod-oomkilled',
        severity: 'critical',
        message: `Container ${c.name} was killed for memory (${last.reason ?? 'exit 137'}) and has restarted ${c.restartCount} times: Redis outgrew the container's memory limit.`,
        evidence: {
          container: c.name,
          restartCount: c.restartCount,
          reason: last.reason ?? '',
          exitCode: last.exitCode ?? 0,
        },
      });
    }
    if (c.state.reason === 'CrashLoopBackOff') {
      out.push({
        id: 'pod-crashloop',
        severity: 'critical',
        message: `Container ${c.name} is in CrashLoopBackOff after ${c.restartCount} restarts.`,
        evidence: { container: c.name, restartCount: c.restartCount },
      });
    }
  }
  if (pod.failedProbes > 0) {
    out.push({
      id: 'probes-failing',
      severity: 'warning',
      message: `${pod.failedProbes} probe failure event(s) on the pod.`,
      evidence: { failedProbes: pod.failedProbes },
    });
  }
  return out;
};

export const logRules: Rule = (e) => {
  const signals = e.logs?.signals ?? [];
  const severity: Record<string, Finding['severity']> = {
    'oom-command-not-allowed': 'critical',
    misconf: 'critical',
    'disk-full': 'critical',
    'fork-cannot-allocate-memory': 'warning',
    'permission-denied': 'warning',
    'oom-killed-by-kernel': 'critical',
    'aof-error': 'warning',
  };
  return signals.map((s) => ({
    id: `log-${s.signal}`,
    severity: severity[s.signal] ?? 'warning',
    message: `The previous container's log shows ${s.signal} (${s.count}×), e.g. "${s.example}".`,
    evidence: { signal: s.signal, count: s.count },
  }));
};
