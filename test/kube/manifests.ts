/** Reads the k8s/ kustomize bases as plain objects, and applies them with server-side apply. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** The repository's k8s/ directory, from the sources and from dist/. */
export const K8S_DIR = fileURLToPath(new URL('../../../k8s/', import.meta.url));

/** Field manager of the tests' server-side applies. */
export const FIELD_MANAGER = 'redis-runbook-tests';

/** A manifest document and the file it came from. */
export interface Manifest {
  file: string;
  object: KubernetesObject & Record<string, unknown>;
}

/** Every document of a YAML file under k8s/ (path relative to k8s/). */
export function readManifestFile(file: string): Manifest[] {
  const text = readFileSync(join(K8S_DIR, file), 'utf8');
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest['object'] | null)
    .filter((object): object is Manifest['object'] => object !== null)
    .map((object) => ({ file, object }));
}

/** The files a kustomization (`k8s/<dir>/kustomization.yaml`) lists under `resources`, relative to k8s/. */
export function kustomizationResources(dir: string): string[] {
  const [kustomization] = readManifestFile(join(dir, 'kustomization.yaml'));
  const resources = (kustomization?.object as { resources?: string[] } | undefined)?.resources ?? [];
  return resources.map((r) => join(dir, r));
}

/** Every document of a kustomization, in its order. */
export function kustomizationManifests(dir: string): Manifest[] {
  return kustomizationResources(dir).flatMap(readManifestFile);
}

/** Every .yaml file under k8s/, relative to it. */
export function allManifestFiles(dir = K8S_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return allManifestFiles(path);
    return entry.name.endsWith('.yaml') ? [relative(K8S_DIR, path)] : [];
  });
}

/** Server-side apply of one object (`dryRun` only validates it, admission included). */
export async function serverSideApply(
  kc: KubeConfig,
  object: KubernetesObject,
  opts: { dryRun?: boolean } = {},
): Promise<KubernetesObject> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  return client.patch(
    object,
    undefined,
    opts.dryRun ? 'All' : undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}
