/**
 * One axios instance per connection, with a keep-alive agent shared by Graph calls and by MSAL
 * (through MsalNetworkClient), so every request of a connection reuses the same few TLS sockets.
 */
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { isNotSentCode, type NetworkFailure } from './errors';
import { MAILBOX_CONCURRENCY } from './mailer';

export interface HttpClient {
  readonly axios: AxiosInstance;
  /** Ends every socket; the client is not used afterwards. */
  destroy(): void;
}

export function createHttpClient(): HttpClient {
  const agent = new https.Agent({
    keepAlive: true,
    // The next mail's request can start before the previous answer's socket is back in the pool
    // (Node returns it after the response's end handlers ran) and would open a new connection;
    // with the cap it waits for that socket instead. Measured in bench/: 16 → 4 connections.
    maxSockets: MAILBOX_CONCURRENCY,
    // Idle sockets are closed by us before servers do, so a reused socket is rarely a dead one.
    timeout: 30_000,
  });
  const instance = axios.create({
    httpsAgent: agent,
    // Graph answers sendMail with 202 and never redirects: skipping follow-redirects saves CPU.
    maxRedirects: 0,
    // Proxies come with their own option later; axios' env handling would break CONNECT for https.
    proxy: false,
    // Every status is an answer to classify, not an exception.
    validateStatus: () => true,
    // Error bodies are parsed by us; no size limit beyond Graph's own.
    maxContentLength: Infinity,
    maxBodyLength: Infinity,
  });
  return {
    axios: instance,
    destroy: () => agent.destroy(),
  };
}

/** Lower-case header map with string values (axios may give arrays or numbers). */
export function flatHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** Turns a thrown axios error into what we may keep of it: a code and whether the request may have arrived. */
export function transportFailure(err: unknown, url: string): NetworkFailure {
  let host = '';
  try {
    host = new URL(url).host;
  } catch {
    // keep empty
  }
  if (err instanceof AxiosError) {
    const cause = err.cause as NodeJS.ErrnoException | undefined;
    const code = (cause?.code || err.code || 'ENETWORK').toString();
    // axios reports its own timeout as ECONNABORTED (or ETIMEDOUT with clarifyTimeoutError).
    const normalised = code === 'ECONNABORTED' ? 'ETIMEDOUT' : code;
    return { code: normalised, maybeSent: !isNotSentCode(normalised), host };
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'ENETWORK';
  return { code, maybeSent: !isNotSentCode(code), host };
}

/** What went wrong on the last token-endpoint exchange, for classification after MSAL wraps it. */
export type TokenExchangeFailure =
  | { kind: 'network'; failure: NetworkFailure }
  | { kind: 'http'; status: number; retryAfter?: string; body: unknown };

/**
 * MSAL's network module on our axios instance. MSAL swallows the details of errors it did not
 * raise itself, so the last failure is kept here for TokenProvider to classify (token calls are
 * single-flight, so "last" is unambiguous).
 */
export class MsalNetworkClient implements INetworkModule {
  lastFailure?: TokenExchangeFailure;
  tokenRequests = 0;

  constructor(
    private readonly http: AxiosInstance,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    this.tokenRequests++;
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    let response: AxiosResponse<T>;
    try {
      response = await this.http.request<T>({
        method,
        url,
        headers: options?.headers,
        data: options?.body,
        timeout: this.timeoutMs,
      });
    } catch (err) {
      this.lastFailure = { kind: 'network', failure: transportFailure(err, url) };
      throw new Error('token endpoint unreachable');
    }
    const headers = flatHeaders(response.headers);
    if (response.status >= 400) {
      this.lastFailure = { kind: 'http', status: response.status, retryAfter: headers['retry-after'], body: response.data };
      // Handing MSAL a 429/5xx makes it refuse every call for a while without a request; our
      // caller decides about retries instead.
      if (response.status === 429 || response.status >= 500) throw new Error(`token endpoint answered ${response.status}`);
    }
    return { headers, body: response.data, status: response.status };
  }
}
