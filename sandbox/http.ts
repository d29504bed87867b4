/**
 * Request/response plumbing shared by the Entra and Graph stand-ins: the parsed request, the
 * reply value handlers return (so a fault can drop it instead of sending it), and the two error
 * JSON shapes.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export interface RequestContext {
  method: string;
  /** Raw path (still percent-encoded), without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body, cut at the size limit + 1 byte (enough to know it was over). */
  body: Buffer;
  /** The full length received, even when the stored body was cut. */
  bodyLength: number;
  /** A new GUID per request: Graph's `request-id`, Entra's trace id. */
  requestId: string;
  /** The client's `client-request-id` header, echoed back. */
  clientRequestId?: string;
  /** Runs `fn` once the response is over (sent, reset or abandoned): releases concurrency slots. */
  onClose(fn: () => void): void;
  /** Waits the configured latency; resolves early when the sandbox closes. */
  latency(): Promise<void>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The error code for the request log (Graph `code` or Entra `error` + AADSTS number). */
  errorCode?: string;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads the body, keeping at most `limit + 1` bytes but draining the rest, so a too-large request
 * can still be answered with 413 on a connection that stays usable.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; length: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let stored = 0;
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (stored <= limit) {
        const keep = chunk.subarray(0, limit + 1 - stored);
        chunks.push(keep);
        stored += keep.length;
      }
    });
    req.on('end', () => resolve({ body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), length }));
    req.on('error', reject);
  });
}

export function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** Graph's `innerError.date`: UTC without fraction or zone, as Graph writes it. */
function graphDate(): string {
  return new Date().toISOString().slice(0, 19);
}

/** Graph's error JSON: `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`. */
export function graphError(
  ctx: RequestContext,
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Reply {
  const reply = jsonReply(
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: graphDate(),
          'request-id': ctx.requestId,
          'client-request-id': ctx.clientRequestId ?? ctx.requestId,
        },
      },
    },
    headers,
  );
  reply.errorCode = code;
  return reply;
}

/** Graph's code for a status, used when a fault gives a status but no code. */
export function defaultGraphCode(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'InvalidAuthenticationToken';
    case 403:
      return 'ErrorAccessDenied';
    case 404:
      return 'ResourceNotFound';
    case 413:
      return 'RequestEntityTooLarge';
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalServerError';
    case 502:
      return 'BadGateway';
    case 503:
      return 'ServiceNotAvailable';
    case 504:
      return 'GatewayTimeout';
    default:
      return 'UnknownError';
  }
}

/** Entra's `error` for a status, used when a token fault gives a status but no code. */
export function defaultEntraError(status: number): string {
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'invalid_client';
  if (status === 429) return 'temporarily_unavailable';
  if (status === 503 || status === 504) return 'temporarily_unavailable';
  return 'server_error';
}

/** Entra's timestamp form in error descriptions and `timestamp`: `2024-05-01 10:20:30Z`. */
function entraTimestamp(): string {
  return `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/**
 * Entra's error JSON. The description ends with the trace and correlation ids and timestamp,
 * as Entra's does, because users paste it into support tickets.
 */
export function entraError(
  ctx: RequestContext,
  loginBase: string,
  status: number,
  error: string,
  aadsts: number,
  description: string,
  headers?: Record<string, string>,
): Reply {
  const correlationId = ctx.clientRequestId ?? ctx.requestId;
  const timestamp = entraTimestamp();
  const reply = jsonReply(
    status,
    {
      error,
      error_description: `AADSTS${aadsts}: ${description} Trace ID: ${ctx.requestId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [aadsts],
      timestamp,
      trace_id: ctx.requestId,
      correlation_id: correlationId,
      error_uri: `${loginBase}/error?code=${aadsts}`,
    },
    { 'cache-control': 'no-store, no-cache', pragma: 'no-cache', ...headers },
  );
  reply.errorCode = `${error} AADSTS${aadsts}`;
  return reply;
}
