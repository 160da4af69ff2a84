/** The configuration's one error type, and how it names a field. */

/** Invalid configuration. `issues` holds one line per problem, each naming its source and field. */
export class ConfigError extends Error {
  constructor(
    public readonly issues: string[],
    options?: { cause?: unknown },
  ) {
    super(issues.join('\n'), options);
    this.name = 'ConfigError';
  }
}

/** `targets[0].redis.host`: a zod issue path as written in YAML. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}
