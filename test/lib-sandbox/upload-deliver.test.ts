/**
 * deliver() on its own (no Node-RED) against the sandbox, with real MSAL and axios: the steps it
 * hands to a caller's runStep (where a retry policy will sit), and token renewal between steps.
 */
import { randomFillSync } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { composeMail } from '../../nodes/lib/compose';
import { MailError } from '../../nodes/lib/errors';
import { GraphClient } from '../../nodes/lib/graph';
import { createHttpClient, type HttpClient } from '../../nodes/lib/http';
import { TokenProvider } from '../../nodes/lib/token';
import { deliver, UPLOAD_CHUNK_BYTES, type DeliveryStep } from '../../nodes/lib/upload-session';

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

describe('deliver', () => {
  it('hands every Graph call to runStep, named and marked (sends, idempotent)', async () => {
    const seen: DeliveryStep[] = [];
    const mail = mailWith([1000, 2_500_000, 2_500_000, 5_000_000]);
    let renewed = 0;
    const result = await deliver(graph, SANDBOX.senderEmail, { mail, saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken(), {
      renew: () => (renewed++, tokens.getToken()),
      runStep: (step, call) => (seen.push(step), call()),
    });
    expect(result.path).toBe('uploadSession');
    const puts = Math.ceil(5_000_000 / UPLOAD_CHUNK_BYTES);
    expect(seen.map((s) => s.name)).toEqual(['createDraft', 'addAttachment', 'createUploadSession', ...Array(puts).fill('putChunk'), 'sendDraft']);
    expect(seen.filter((s) => s.sends).map((s) => s.name)).toEqual(['sendDraft']);
    expect(seen.filter((s) => s.idempotent).map((s) => s.name)).toEqual(Array(puts).fill('putChunk'));
    // Asked before each later step that needs a token (addAttachment, createUploadSession, send).
    expect(renewed).toBe(3);
    expect(sandbox.mail()).toHaveLength(1);
  });

  it('US Government L4/L5 (no upload sessions there): a large mail fails before any request, a small one is not affected', async () => {
    for (const host of ['https://graph.microsoft.us', 'https://dod-graph.microsoft.us']) {
      const gov = new GraphClient(http.axios, host, []);
      expect(gov.uploadSessions).toBe(false);
      const seen: DeliveryStep[] = [];
      const failure = await deliver(gov, SANDBOX.senderEmail, { mail: mailWith([5_000_000]), saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken(), {
        runStep: (step, call) => (seen.push(step), call()),
      }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(MailError);
      expect(failure).toMatchObject({ category: 'size', code: 'UploadSessionUnavailable', hintKey: 'uploadSessionNotInCloud', retryable: false });
      expect(seen).toEqual([]);
    }
    expect(new GraphClient(http.axios, 'https://graph.microsoft.com', []).uploadSessions).toBe(true);
    expect(new GraphClient(http.axios, 'https://microsoftgraph.chinacloudapi.cn', []).uploadSessions).toBe(true);
    expect(sandbox.requests()).toEqual([]);
  });

  it('a small mail is one sendMail step, marked as sending', async () => {
    const seen: DeliveryStep[] = [];
    const result = await deliver(graph, SANDBOX.senderEmail, { mail: mailWith([10]), saveToSentItems: false, timeoutMs: 30_000 }, await tokens.getToken(), {
      runStep: (step, call) => (seen.push(step), call()),
    });
    expect(result.path).toBe('sendMail');
    expect(seen).toEqual([{ name: 'sendMail', sends: true, idempotent: false }]);
    expect(sandbox.mail()[0].saveToSentItems).toBe(false);
  });

  it('a refused addAttachment deletes the draft through a deleteDraft step and names the step', async () => {
    sandbox.addFault({ target: 'graph', after: 1, status: 400, code: 'ErrorInvalidRequest' });
    const seen: string[] = [];
    const error = await deliver(graph, SANDBOX.senderEmail, { mail: mailWith([2_500_000, 2_500_000]), saveToSentItems: true, timeoutMs: 30_000 }, await tokens.getToken(), {
      runStep: (step, call) => (seen.push(step.name), call()),
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MailError);
    expect(error).toMatchObject({ messageKey: 'largeMailFailed', graphCode: 'ErrorInvalidRequest', params: { step: 'addAttachment f1.bin' } });
    expect(seen).toEqual(['createDraft', 'addAttachment', 'deleteDraft']);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expect(sandbox.mail()).toEqual([]);
  });
});
