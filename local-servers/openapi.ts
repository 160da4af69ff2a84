/**
 * An OpenAPI description of `api/` (PagerDuty's REST operations the runbook calls, the webhook deliveries it
 * receives), routed and validated by openapi-backend (Ajv underneath, with ajv-formats for `email`, `uri`,
 * `date-time`): what the PagerDuty stand-in checks every request and its own answers against, and what the tests check
 * the receiver's traffic against.
 */
import { readFileSync } from 'node:fs';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Document, type Operation } from 'openapi-backend';
import { parse } from 'yaml';
import { repoFile } from './repo-path.js';

/** PagerDuty's REST operations the runbook calls. */
export const PAGERDUTY_REST_API = repoFile('api/pagerduty-rest.yaml');
/** PagerDuty's Events API v2 as the runbook calls it: change events. */
export const PAGERDUTY_EVENTS_API = repoFile('api/pagerduty-events.yaml');
/** Slack's Web API methods the runbook calls (`chat.*`, `users.info`, `conversations.*`). */
export const SLACK_WEB_API = repoFile('api/slack-web.yaml');
/** The receiver's endpoints: PagerDuty's webhook deliveries and incident actions. */
export const RECEIVER_API = repoFile('api/receiver.yaml');

/** A request as a server received it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: string;
  /** Lower-cased names. */
  headers: Record<string, string | undefined>;
  body: string;
  /** The body already read into an object (a form, as Slack takes them): checked as the JSON it stands for. */
  parsedBody?: unknown;
}

/** The outcome of checking one request. */
export interface RequestCheck {
  operation?: Operation;
  pathParams: Record<string, string>;
  /** One line per problem, naming where (`header From`, `body.note.content`…). */
  errors: string[];
  /** The body, parsed, when it was JSON. */
  json?: unknown;
}

type AjvError = { instancePath?: string; message?: string; params?: Record<string, unknown> };

function describe(errors: AjvError[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = (e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') || '(root)';
    const extra = e.params?.allowedValues
      ? ` ${JSON.stringify(e.params.allowedValues)}`
      : e.params?.additionalProperty
        ? ` ${JSON.stringify(e.params.additionalProperty)}`
        : '';
    return `${where}: ${e.message ?? 'invalid'}${extra}`;
  });
}

/** The description, loaded and compiled once per process. */
export class OpenApiDescription {
  private constructor(private readonly backend: OpenAPIBackend) {}

  /** Loads and compiles a description; throws when it is not valid OpenAPI. */

  static async load(path: string): Promise<OpenApiDescription> {
    const backend = new OpenAPIBackend({
      definition: parse(readFileSync(path, 'utf8')) as Document,
      strict: true,
      coerceTypes: true,
      customizeAjv: (ajv) => {
        addFormats.default(ajv);
        return ajv;
      },
    });
    await backend.init();
    return new OpenApiDescription(backend);
  }

  /**
   * Checks a request: the operation exists for its method and path; each header, path and query parameter, with
   * unknown query parameters refused; the body is JSON of the operation's schema. (Security schemes are the caller's.)
   */
  checkRequest(req: SeenRequest): RequestCheck {
    const request = {
      method: req.method,
      path: req.path,
      query: req.query.replace(/^\?/, ''),
      headers: Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string] => e[1] !== undefined)),
      body: req.body,
    };
    const operation = this.backend.router.matchOperation(request);
    if (!operation) return { pathParams: {}, errors: [`${req.method} ${req.path}: no such operation`] };
    const errors: string[] = [];
    let json: unknown = req.parsedBody;
    if (json !== undefined) request.headers['content-type'] = 'application/json';
    else if (req.body.length > 0) {
      try {
        json = JSON.parse(req.body);
      } catch {
        errors.push('body: not JSON');
      }
    }
    if (req.body.length > 0 && !operation.requestBody) errors.push(`${req.method} ${operation.path} takes no body`);
    const parsed = this.backend.router.parseRequest(request, operation);
    const result = this.backend.validator.validateRequest({ ...request, body: json ?? req.body }, operation);
    errors.push(...describe(result.errors as AjvError[] | null | undefined));
    return {
      operation,
      pathParams: parsed.params as Record<string, string>,
      errors,
      ...(json !== undefined ? { json } : {}),
    };
  }

  /** Checks an answer against the operation's documented response for `status`. */
  checkResponse(operation: Operation, status: number, body: unknown): string[] {
    if (!operation.responses?.[String(status)]) return [`${operation.operationId}: status ${status} is not documented`];
    const result = this.backend.validator.validateResponse(body, operation, status);
    return describe(result.errors as AjvError[] | null | undefined).map((e) => `response ${status} ${e}`);
  }
}
