/**
 * Traces, off by default: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans go
 * to that OTLP/HTTP collector, from the receiver's request through the workflows (the SDK's OpenTelemetry workflow
 * interceptors, in the traced bundle) to each activity. `OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS` and
 * `OTEL_SDK_DISABLED` mean what the OpenTelemetry specification says. The client and activity interceptors are always
 * installed (without a registered provider they make no-op spans); the workflow interceptors only with tracing on,
 * since each cached run instantiates them (see `worker/workflow-bundle.ts`).
 */
import { createRequire } from 'node:module';
import { Resource } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';

export { TRACING_ENV_VARS } from './variables.js';

/** The SDK's workflow interceptors, bundled with the workflow code (the prebuilt bundle and any bundled at start). */
export const WORKFLOW_TRACING_INTERCEPTORS = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

/** Where spans go, for this process. */
export interface Tracing {
  enabled: boolean;
  resource: Resource;
  processor: SpanProcessor;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/** The collector's traces URL from the standard variables, or undefined when tracing is off. */
export function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/** `key=value,key2=value2` (values URL-encoded), as `OTEL_EXPORTER_OTLP_HEADERS` holds them. */
function otlpHeaders(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

/** What a worker registers when tracing is off: the workflow interceptors' sink, dropping every span. */
export const NO_TRACING: Pick<Tracing, 'processor' | 'resource'> = {
  processor: new NoopSpanProcessor(),
  resource: Resource.empty(),
};

let current: Tracing | undefined;

/**
 * Starts tracing for this process from `env` (once: a second call, as when a test runs the worker and the receiver
 * in one process, gets the first one's). Off: a no-op processor and no registered provider.
 */
export function startTracing(env: NodeJS.ProcessEnv, defaultServiceName: string): Tracing {
  if (current) return current;
  const url = tracesUrl(env);
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || defaultServiceName });
  if (!url) {
    return { enabled: false, resource, processor: new NoopSpanProcessor(), shutdown: () => Promise.resolve() };
  }
  const exporter = new OTLPTraceExporter({
    url,
    headers: {
      ...otlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...otlpHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
  });
  const processor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The global provider, the AsyncLocalStorage context manager and W3C trace context: what the interceptors use.
  provider.register();
  const tracing: Tracing = {
    enabled: true,
    resource,
    processor,
    shutdown: async () => {
      await provider.shutdown();
      current = undefined;
    },
  };
  current = tracing;
  return tracing;
}

/** The client interceptors every Temporal client gets: starts, signals, updates and queries carry the trace. */
export function clientTracingInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** What a worker adds: activity spans continuing the workflow's trace, and the workflow spans' exporter sink. */
export function workerTracingOptions(
  tracing: Pick<Tracing, 'processor' | 'resource'>,
): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) },
  };
}
