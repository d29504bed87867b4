/**
 * deliver() on its own (no Node-RED) against the sandbox, with real MSAL and axios: the Graph
 * requests each path makes, and token renewal between the steps of a large mail.
 */
import { randomFillSync } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { composeMail } from '../../nodes/lib/compose';
import { MailError } from '../../nodes/lib/errors';
import { GraphClient } from '../../nodes/lib/graph';
import { createHttpClient, type HttpClient } from '../../nodes/lib/http';
import { TokenProvider } from '../../nodes/lib/token';
import { deliver, UPLOAD_CHUNK_BYTES } from '../../nodes/lib/delivery';

const rules = { bodyFormat: 'auto', importance: 'normal', allowedRecipientDomains: [], maxRecipients: 500 } as const;

let sandbox: Sandbox;
let http: HttpClient;
let graph: GraphClient;
let tokens: TokenProvider;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  http = createHttpClient();
  graph = new GraphClient(http.axios, sandbox.url, [SANDBOX.clientSecret]);
  tokens = new TokenProvider(
    { tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret, loginUrl: sandbox.url, graphUrl: sandbox.url },
    http,
  );
});
afterAll(async () => {
  http.destroy();
  await sandbox.close();
});
beforeEach(() => sandbox.reset());

function mailWith(sizes: number[]): ReturnType<typeof composeMail> {
  return composeMail({ to: 'ada@example.com', subject: 's', body: 'b', attachments: sizes.map((n, i) => ({ filename: `f${i}.bin`, content: randomFillSync(Buffer.allocUnsafe(n)) })) }, { ...rules, allowedRecipientDomains: [] });
}

/** The Graph requests the sandbox saw, as `METHOD kind` (the ids in the paths left out). */
function graphSteps(): string[] {
  return sandbox
    .requests()
    .filter((r) => r.target !== 'token')
    .map((r) => `${r.method} ${r.path.replace(/^.*\/users\/[^/]+/, '').replace(/\/messages\/[^/]+/, '/messages/{id}')}`);
}

describe('deliver', () => {
  it('a large mail: draft, attachments, upload session, send, asking for the current token before each later step', async () => {
    const mail = mailWith([1000, 2_500_000, 2_500_000, 5_000_000]);
    let renewed = 0;
    const result = await deliver(graph, SANDBOX.senderEmail, { mail, saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken(), {
      renew: () => (renewed++, tokens.getToken()),
    });
    expect(result.path).toBe('uploadSession');
    const puts = sandbox.requests().filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(Math.ceil(5_000_000 / UPLOAD_CHUNK_BYTES));
    expect(graphSteps().filter((s) => !s.startsWith('PUT'))).toEqual([
      'POST /messages',
      'POST /messages/{id}/attachments',
      'POST /messages/{id}/attachments/createUploadSession',
      'POST /messages/{id}/send',
    ]);
    // Asked before each later step that needs a token (addAttachment, createUploadSession, send).
    expect(renewed).toBe(3);
    expect(sandbox.mail()).toHaveLength(1);
  });

  it('US Government L4/L5 (no upload sessions there): a large mail fails before any request, a small one is not affected', async () => {
    for (const host of ['https://graph.microsoft.us', 'https://dod-graph.microsoft.us']) {
      const gov = new GraphClient(http.axios, host, []);
      expect(gov.uploadSessions).toBe(false);
      const failure = await deliver(gov, SANDBOX.senderEmail, { mail: mailWith([5_000_000]), saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken()).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(MailError);
      expect(failure).toMatchObject({ category: 'size', code: 'UploadSessionUnavailable', hintKey: 'uploadSessionNotInCloud', retryable: false });
    }
    expect(new GraphClient(http.axios, 'https://graph.microsoft.com', []).uploadSessions).toBe(true);
    expect(new GraphClient(http.axios, 'https://microsoftgraph.chinacloudapi.cn', []).uploadSessions).toBe(true);
    expect(sandbox.requests()).toEqual([]);
  });

  it('a small mail is one sendMail request', async () => {
    const result = await deliver(graph, SANDBOX.senderEmail, { mail: mailWith([10]), saveToSentItems: false, timeoutMs: 30_000 }, await tokens.getToken());
    expect(result.path).toBe('sendMail');
    expect(graphSteps()).toEqual(['POST /sendMail']);
    expect(sandbox.mail()[0].saveToSentItems).toBe(false);
  });

  it('a refused addAttachment deletes the draft and names the step', async () => {
    sandbox.addFault({ target: 'graph', after: 1, status: 400, code: 'ErrorInvalidRequest' });
    const error = await deliver(graph, SANDBOX.senderEmail, { mail: mailWith([2_500_000, 2_500_000]), saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MailError);
    expect(error).toMatchObject({ messageKey: 'largeMailFailed', graphCode: 'ErrorInvalidRequest', params: { step: 'addAttachment f1.bin' } });
    expect(graphSteps()).toEqual(['POST /messages', 'POST /messages/{id}/attachments', 'DELETE /messages/{id}']);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expect(sandbox.mail()).toEqual([]);
  });
});
