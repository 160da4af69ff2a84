import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyLogs, MAX_LINE_CHARS } from '../../workflows/logic/classify-logs.js';
import type { LogSignal } from '../../activities/kubernetes/types.js';

const cases: Array<{ name: string; line: string; signals: LogSignal[] }> = [
  {
    name: 'OOM rejection relayed by a client',
    line: "ReplyError: OOM command not allowed when used memory > 'maxmemory'.",
    signals: ['oom-command-not-allowed'],
  },
  {
    name: 'MISCONF reply',
    line: "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
    signals: ['misconf'],
  },
  {
    name: 'fork failure for BGSAVE',
    line: "1:M 14 Mar 2026 02:40:10.043 # Can't save in background: fork: Cannot allocate memory",
    signals: ['fork-cannot-allocate-memory'],
  },
  {
    name: 'fork failure for AOF rewrite',
    line: "1:M 14 Mar 2026 02:40:10.043 # Can't rewrite append only file in background: fork: Cannot allocate memory",
    signals: ['fork-cannot-allocate-memory'],
  },
  {
    name: 'RDB temp file not writable',
    line: '213:C 14 Mar 2026 02:40:31.546 # Failed opening the temp RDB file temp-213.rdb (in server root dir /data) for saving: Permission denied',
    signals: ['permission-denied'],
  },
  {
    name: 'disk full on RDB write',
    line: '213:C 14 Mar 2026 02:40:31.546 # Write error saving DB on disk: No space left on device',
    signals: ['disk-full'],
  },
  {
    name: 'AOF write on a full disk is two signals',
    line: '1:M 14 Mar 2026 02:40:31.546 # Error writing to the AOF file: No space left on device',
    signals: ['disk-full', 'aof-error'],
  },
  {
    name: 'corrupt AOF',
    line: '1:M 14 Mar 2026 02:40:31.546 # Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>',
    signals: ['aof-error'],
  },
  {
    name: 'kernel cgroup OOM kill',
    line: 'Memory cgroup out of memory: Killed process 1 (redis-server) total-vm:2391844kB, anon-rss:2089312kB',
    signals: ['oom-killed-by-kernel'],
  },
  {
    name: 'kernel oom-killer invocation',
    line: '[812345.123] redis-server invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=936',
    signals: ['oom-killed-by-kernel'],
  },
  {
    name: 'Out of memory: Kill process (older kernels)',
    line: 'Out of memory: Kill process 4242 (redis-server) score 912 or sacrifice child',
    signals: ['oom-killed-by-kernel'],
  },
  // Negatives: lines that look close but are not failures.
  {
    name: 'overcommit warning',
    line: '# WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition.',
    signals: [],
  },
  {
    name: 'successful save',
    line: '1:M 14 Mar 2026 02:40:31.662 * Background saving terminated with success',
    signals: [],
  },
  { name: 'OOM in a key name', line: 'GET room:42', signals: [] },
  { name: 'misconfigured, lowercase', line: 'the proxy is misconfigured', signals: [] },
  { name: 'AOF rewrite done', line: '1:M * Background AOF rewrite finished successfully', signals: [] },
  { name: 'empty', line: '', signals: [] },
];

void describe('classifyLogs', () => {
  for (const c of cases) {
    void it(`${c.signals.length === 0 ? 'ignores' : 'recognises'} ${c.name}`, () => {
      const result = classifyLogs(c.line);
      assert.deepEqual(
        result.signals.map((s) => s.signal),
        c.signals,
      );
      for (const s of result.signals) {
        assert.equal(s.count, 1);
        assert.equal(s.example, c.line);
      }
    });
  }

  void it('counts lines per signal and keeps the most recent as example', () => {
    const text = [
      "1:M 10:00 # Can't save in background: fork: Cannot allocate memory",
      '1:M 10:01 * 10000 changes in 60 seconds. Saving...',
      "1:M 10:02 # Can't save in background: fork: Cannot allocate memory",
      '',
    ].join('\r\n');
    const { signals } = classifyLogs(text);
    assert.deepEqual(signals, [
      {
        signal: 'fork-cannot-allocate-memory',
        count: 2,
        example: "1:M 10:02 # Can't save in background: fork: Cannot allocate memory",
      },
    ]);
  });

  void it('keeps the last 20 non-blank lines by default, or as many as asked', () => {
    const text = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join('\n') + '\n\n';
    const byDefault = classifyLogs(text).lastLines;
    assert.equal(byDefault.length, 20);
    assert.equal(byDefault[0], 'line 31');
    assert.equal(byDefault.at(-1), 'line 50');
    assert.deepEqual(classifyLogs(text, { lastLines: 2 }).lastLines, ['line 49', 'line 50']);
    assert.deepEqual(classifyLogs(text, { lastLines: 0 }).lastLines, []);
    assert.deepEqual(classifyLogs('', {}).lastLines, []);
  });

  void it('truncates examples and kept lines to 300 characters', () => {
    const long = `# Error writing to the AOF file: ${'x'.repeat(1000)}`;
    const result = classifyLogs(long);
    assert.equal(result.signals[0]?.example.length, MAX_LINE_CHARS);
    assert.ok(result.signals[0]?.example.endsWith('…'));
    assert.equal(result.lastLines[0]?.length, MAX_LINE_CHARS);
  });

  it('reads the data size of the last RDB load, the latest one when Redis loaded several times', () => {
    const log = [
      '1:M 03 Dec 2026 06:00:01.000 * Loading RDB produced by version 7.0.15',
      '1:M 03 Dec 2026 06:00:01.000 * RDB age 12 seconds',
      '1:M 03 Dec 2026 06:00:01.000 * RDB memory usage when created 1024.50 Mb',
      '1:M 03 Dec 2026 06:00:09.000 * RDB memory usage when created 1536.00 Mb',
    ].join('\n');
    assert.equal(classifyLogs(log).loadedDataBytes, 1536 * 1024 * 1024);
    assert.equal(classifyLogs(`${log}\n1:M * DB loaded from disk: 41.250 seconds`).loadSeconds, 41.25);
    assert.equal(classifyLogs('1:M * Ready to accept connections').loadedDataBytes, undefined);
  });
});
