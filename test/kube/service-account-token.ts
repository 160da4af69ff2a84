/** Tokens of service accounts from the TokenRequest API, as a pod's projected token would be. */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/**
 * A fresh token of `namespace/name`, valid for an hour, for the API server's default audience.
 * @throws ApiException 404 when the service account does not exist
 */
export async function serviceAccountToken(admin: KubeConfig, namespace: string, name: string): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`the TokenRequest for ${namespace}/${name} returned no token`);
  return token;
}
