/** When tracing is on, and where spans go: the standard OpenTelemetry variables, off unless an endpoint is set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tracesUrl } from '../../tracing/index.js';

describe('tracing configuration', () => {
  it('is off by default, on with an OTLP endpoint, off again when disabled', () => {
    assert.equal(tracesUrl({}), undefined);
    assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' }), 'http://otel:4318/v1/traces');
    assert.equal(
      tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x' }),
      'http://t/x',
      'the traces endpoint is used as it is',
    );
    assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_SDK_DISABLED: 'TRUE' }), undefined);
    assert.equal(
      tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_TRACES_EXPORTER: 'none' }),
      undefined,
    );
  });
});
