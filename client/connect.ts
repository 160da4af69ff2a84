/**
 * One way to reach Temporal for every caller (CLI, receiver, demo, tests; the worker shares the options): the
 * address, namespace, TLS and API key are read the way Temporal's own tools read them, by `@temporalio/envconfig`
 * (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_PROFILE` and the
 * profiles file `TEMPORAL_CONFIG_FILE`), so a secured cluster or Temporal Cloud needs no other setting.
 */
import { clientTracingInterceptors } from '../tracing/index.js';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { loadTemporalSettings, type TemporalSettings } from '../config/environment.js';
import { ConnectionSettingsError, TemporalUnreachableError } from './errors.js';

export type { TemporalSettings };

/**
 * Connection options (address, TLS, API key, gRPC metadata) and namespace from the environment and the profiles
 * file. They hold secrets (the API key, the client key): pass them to a connection, never to a log.
 * @throws {ConnectionSettingsError} when a variable or the profile is malformed (a CA file that does not exist…).
 */
export function connectionOptionsFrom(env: NodeJS.ProcessEnv): {
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
} {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => !!e[1]));
  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars });
  } catch (err) {
    throw new ConnectionSettingsError(
      `Temporal connection settings: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const { connectionOptions } = loaded;
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? 'localhost:7233' },
    namespace: loaded.namespace ?? 'default',
  };
}

/**
 * {@link TemporalSettings} from the environment, checked by the configuration's schema, with the address and
 * namespace of the active profile where the environment sets none.
 * @throws {ConfigError} naming the variable when a value is malformed.
 */
export function temporalSettingsFrom(env: NodeJS.ProcessEnv): TemporalSettings {
  const checked = loadTemporalSettings(env);
  const { connectionOptions, namespace } = connectionOptionsFrom(env);
  return {
    ...checked,
    address: env.TEMPORAL_ADDRESS ? checked.address : connectionOptions.address,
    namespace: env.TEMPORAL_NAMESPACE ? checked.namespace : namespace,
  };
}

/** A connected client and how to let go of it. */
export interface TemporalClient {
  client: Client;
  settings: TemporalSettings;
  close(): Promise<void>;
}

/**
 * Connects a client as configured by `env`.
 * @throws {ConnectionSettingsError} on malformed settings; {@link TemporalUnreachableError} when the frontend does not
 * answer within `connectTimeoutMs` (default 5 s) or refuses the handshake (wrong CA, missing client certificate).
 */
export async function connectTemporal(
  env: NodeJS.ProcessEnv = process.env,
  opts: { connectTimeoutMs?: number } = {},
): Promise<TemporalClient> {
  const settings = temporalSettingsFrom(env);
  // Read once more only for TLS and the API key, which settings never hold (they are secrets).
  const { connectionOptions } = connectionOptionsFrom(env);
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: settings.address,
      ...(connectionOptions.tls !== undefined ? { tls: connectionOptions.tls } : {}),
      ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
      ...(connectionOptions.metadata ? { metadata: connectionOptions.metadata } : {}),
      connectTimeout: opts.connectTimeoutMs ?? 5000,
    });
  } catch (err) {
    throw TemporalUnreachableError.from(settings.address, err);
  }
  return {
    client: new Client({ connection, namespace: settings.namespace, interceptors: clientTracingInterceptors() }),
    settings,
    close: () => connection.close(),
  };
}

/** Link to a run in the Temporal Web UI. */
export function uiLink(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
