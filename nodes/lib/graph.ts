/** Graph mail calls on the connection's axios instance, with Graph's error JSON turned into MailError. */
import { randomUUID } from 'node:crypto';
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { Message } from '@microsoft/microsoft-graph-types';
import { MailError, graphError, networkError } from './errors';
import { flatHeaders, retryAfterSeconds, transportFailure } from './http';

export { retryAfterSeconds };

export interface GraphCallResult {
  requestId: string;
  clientRequestId: string;
}

/** Graph refuses requests over 4 MB with 413; checked here so a large mail is not uploaded in vain. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

interface GraphErrorBody {
  error?: { code?: string; message?: string; innerError?: { 'request-id'?: string } };
}

export class GraphClient {
  constructor(
    private readonly http: AxiosInstance,
    private readonly graphUrl: string,
    private readonly secrets: readonly string[],
  ) {}

  /**
   * `POST /users/{sender}/sendMail`; resolves on 202, throws MailError otherwise. `signal` aborts
   * the request (shutdown after the grace period); the outcome is then unknown.
   */
  async sendMail(sender: string, message: Message, saveToSentItems: boolean, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const url = `${this.graphUrl}/v1.0/users/${userSegment(sender)}/sendMail`;
    // Graph's default is to save; the field is sent only to turn it off.
    const body = JSON.stringify(saveToSentItems ? { message } : { message, saveToSentItems: false });
    const bytes = Buffer.byteLength(body);
    if (bytes > GRAPH_MAX_REQUEST_BYTES) {
      throw new MailError({
        category: 'size',
        code: 'RequestTooLarge',
        messageKey: 'requestTooLarge',
        hintKey: 'requestTooLarge',
        params: { size: bytes, max: GRAPH_MAX_REQUEST_BYTES },
      });
    }
    return this.post(url, body, token, timeoutMs, signal);
  }

  private async post(url: string, body: string, token: string, timeoutMs: number, signal?: AbortSignal): Promise<GraphCallResult> {
    const clientRequestId = randomUUID();
    let response: AxiosResponse<unknown>;
    try {
      response = await this.http.post(url, body, {
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'client-request-id': clientRequestId,
          'return-client-request-id': 'true',
        },
        timeout: timeoutMs,
        signal,
      });
    } catch (err) {
      throw networkError(transportFailure(err, url), 'graph', clientRequestId);
    }
    const headers = flatHeaders(response.headers);
    const requestId = headers['request-id'] ?? '';
    if (response.status >= 200 && response.status < 300) return { requestId, clientRequestId };
    const data = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as GraphErrorBody;
    throw graphError(
      {
        status: response.status,
        graphCode: data.error?.code,
        message: data.error?.message,
        requestId: requestId || data.error?.innerError?.['request-id'],
        clientRequestId,
        retryAfterSeconds: retryAfterSeconds(headers['retry-after']),
      },
      this.secrets,
    );
  }
}

/** The user path segment: encoded, but `@` stays as written (RFC 3986 allows it; Graph's docs use it). */
export function userSegment(user: string): string {
  return encodeURIComponent(user).replace(/%40/g, '@');
}
