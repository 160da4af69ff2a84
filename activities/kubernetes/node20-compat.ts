/**
 * Lets `@kubernetes/client-node` 2.0.1 load on Node 20. Import it for its side effect BEFORE anything that imports
 * `@kubernetes/client-node` (ESM evaluates imports in order).
 *
 * Why: the client depends on undici ^8, which needs Node >= 22.19 and, on Node 20, throws as soon as it is loaded
 * (`createZstdDecompress.bind` of undefined), then fails each request (`Promise.withResolvers is not a function`). Only
 * what is missing is filled in, so on Node 22+ this module does nothing. Remove it once the project runs on Node 22 or
 * pins undici 7.
 */
import { createRequire } from 'node:module';

interface NodeBuiltins {
  zlib: Record<string, unknown>;
  workerThreads: Record<string, unknown>;
}

// The CommonJS module objects are the ones undici reads through require(), and unlike ESM namespaces they can be
// extended.
const require = createRequire(import.meta.url);
const builtins: NodeBuiltins = {
  zlib: require('node:zlib') as Record<string, unknown>,
  workerThreads: require('node:worker_threads') as Record<string, unknown>,
};

// Undici only uses it to decode `Content-Encoding: zstd`, which kube-apiserver never sends (it compresses with gzip).
builtins.zlib['createZstdDecompress'] ??= () => {
  throw new Error('zstd-compressed responses need Node >= 22.15');
};
// Marks WebIDL objects as not structured-cloneable: a safety check, not behaviour the client relies on.
builtins.workerThreads['markAsUncloneable'] ??= () => undefined;

const promise = Promise as PromiseConstructor & { withResolvers?: unknown };
promise.withResolvers ??= function withResolvers<T>() {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: p, resolve, reject };
};

export {};
