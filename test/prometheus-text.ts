/** Reading Prometheus text exposition in tests: what a scrape would see. */
import assert from 'node:assert/strict';

/** One scrape, as `name{labels} value` lines (comments dropped). */
export async function scrape(url: string): Promise<string[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return (await res.text()).split('\n').filter((l) => l && !l.startsWith('#'));
}

/** The value of the first line of `name` carrying every label in `labels`; 0 when there is none. */
export function metricValue(lines: string[], name: string, labels: Record<string, string> = {}): number {
  const line = lines.find(
    (l) =>
      (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) &&
      Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
  );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
