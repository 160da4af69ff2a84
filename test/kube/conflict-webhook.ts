/**
 * A validating admission webhook that answers HTTP 409 Conflict for the next N (non-dry-run) updates of objects
 * labelled {@link INJECT_CONFLICT_LABEL}: the real API server then refuses the request with that status, as it would
 * on a lost optimistic-concurrency race, so a test sees how an activity handles a 409 from the server itself.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';

export const INJECT_CONFLICT_LABEL = 'redis-runbook.test/inject-conflict';
const WEBHOOK_NAME = 'conflict.redis-runbook.test';

interface AdmissionReview {
  request?: { uid?: string; dryRun?: boolean; name?: string };
}

/** A running conflict webhook. */
export interface ConflictWebhook {
  /** Answer 409 to the next `count` updates that are not dry runs. */
  conflictNext(count: number): void;
  /** Requests answered with 409 so far, dry runs included. */
  conflicts: number;
  stop(): Promise<void>;
}

/** Starts the HTTPS server and registers it with the API server for updates of labelled StatefulSets and Deployments. */
export async function startConflictWebhook(
  admin: KubeConfig,
  tls: { certFile: string; keyFile: string },
  caPem: string,
): Promise<ConflictWebhook> {
  let pending = 0;
  const state = { conflicts: 0 };
  const server = createServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) }, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const review = JSON.parse(body) as AdmissionReview;
      const dryRun = review.request?.dryRun === true;
      // Dry runs probe whether the API server already calls the webhook; they always get the conflict.
      const conflict = dryRun || pending > 0;
      if (conflict) state.conflicts++;
      if (conflict && !dryRun) pending--;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: review.request?.uid,
            allowed: !conflict,
            ...(conflict && {
              status: {
                code: 409,
                reason: 'Conflict',
                message: `Operation cannot be fulfilled on "${review.request?.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
              },
            }),
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const api = admin.makeApiClient(AdmissionregistrationV1Api);
  await api.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: WEBHOOK_NAME },
      webhooks: [
        {
          name: WEBHOOK_NAME,
          clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: Buffer.from(caPem).toString('base64') },
          rules: [
            {
              operations: ['UPDATE'],
              apiGroups: ['apps'],
              apiVersions: ['v1'],
              resources: ['statefulsets', 'deployments'],
              scope: 'Namespaced',
            },
          ],
          objectSelector: { matchLabels: { [INJECT_CONFLICT_LABEL]: 'true' } },
          sideEffects: 'NoneOnDryRun',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
        },
      ],
    },
  });
  return {
    conflictNext(count) {
      pending = count;
    },
    get conflicts() {
      return state.conflicts;
    },
    async stop() {
      await api.deleteValidatingWebhookConfiguration({ name: WEBHOOK_NAME }).catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
