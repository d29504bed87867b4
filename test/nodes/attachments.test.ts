/**
 * Attachments through a real Node-RED runtime against the sandbox: every content shape arrives
 * byte-identical, inline images, and the choice between one sendMail and the upload-session path
 * (draft, upload sessions with raw PUTs of at most 4 MiB, send), with clean-up when a step fails.
 */
import { createHash, randomFillSync } from 'node:crypto';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { UPLOAD_CHUNK_BYTES } from '../../nodes/lib/delivery';
import { english } from '../support/english';
import { expectNoLeaks } from '../support/leaks';
import { loadMailFlow, logText, mailFlow, send, useSandboxAndRuntime, watchOutputs, type OutMsg } from '../support/node-red';

const MiB = 1024 * 1024;
/** Above 6 MB + 40 MB, so the large mail fits; below 50 MB, so the tenant limit can be hit too. */
const TENANT_LIMIT = 48 * MiB;

const currentSandbox = useSandboxAndRuntime({ limits: { maxMessageBytes: TENANT_LIMIT } });
let sandbox: Sandbox;
beforeEach(() => {
  sandbox = currentSandbox();
});

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function randomBuffer(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

async function sendOne(msg: Record<string, unknown>, connection: Record<string, unknown> = {}, secret?: string): Promise<OutMsg> {
  await loadMailFlow(mailFlow(sandbox, {}, connection), secret);
  const out = watchOutputs();
  send({ to: 'ada@example.com', topic: 'files', payload: 'see attached', ...msg });
  await out.settled(1);
  return out.sent[0] ?? out.failed[0];
}

function graphCalls(): Array<{ method: string; path: string; target: string; status: number; bodyBytes?: number }> {
  return sandbox.requests().filter((r) => r.target === 'graph' || r.target === 'upload');
}

describe('attachments of every shape', () => {
  it('Buffer, base64, UTF-8 string, Uint8Array and a Buffer payload arrive byte-identical', async () => {
    const binary = randomBuffer(50_000);
    const pdf = randomBuffer(20_000);
    const text = 'Größe; 価格; emoji 🎉\nline 2\n';
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const payload = randomBuffer(30_000);
    const result = await sendOne({
      payload,
      filename: '/var/data/export.csv',
      attachments: [
        { filename: 'binary.bin', content: binary },
        { filename: 'report.pdf', content: pdf.toString('base64'), encoding: 'base64' },
        { filename: 'notes.txt', content: text },
        { filename: 'raw.dat', content: bytes, contentType: 'application/x-custom' },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.email).toMatchObject({ path: 'sendMail', attachments: 5 });
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.path).toBe('sendMail');
    expect(mail.attachments.map((a) => [a.name, a.contentType, a.size, a.sha256])).toEqual([
      ['export.csv', 'text/csv', payload.length, sha256(payload)],
      ['binary.bin', 'application/octet-stream', binary.length, sha256(binary)],
      ['report.pdf', 'application/pdf', pdf.length, sha256(pdf)],
      ['notes.txt', 'text/plain', Buffer.byteLength(text), sha256(Buffer.from(text, 'utf8'))],
      ['raw.dat', 'application/x-custom', 5, sha256(Buffer.from(bytes))],
    ]);
    expect(mail.attachments.every((a) => !a.isInline)).toBe(true);
  });

  it('an image with cid is inline (isInline, contentId) for <img src="cid:...">', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBuffer(2000)]);
    await sendOne({
      payload: '<p>Our logo: <img src="cid:logo@acme"></p>',
      attachments: [{ filename: 'logo.png', content: png, cid: 'logo@acme' }],
    });
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.message.body).toEqual({ contentType: 'html', content: '<p>Our logo: <img src="cid:logo@acme"></p>' });
    expect(mail.attachments).toEqual([
      { name: 'logo.png', contentType: 'image/png', size: png.length, isInline: true, contentId: 'logo@acme', sha256: sha256(png), via: 'inline' },
    ]);
  });

  it('an attachment that is neither Buffer nor string, or has no name, fails naming it; nothing is sent', async () => {
    const result = await sendOne({ attachments: [{ filename: 'ok.txt', content: 'x' }, { filename: 'bad.json', content: { a: 1 } }] });
    expect(result.error).toMatchObject({ category: 'validation', code: 'InvalidAttachment', message: expect.stringContaining('errors.attachmentContentType') });
    expect(graphCalls()).toEqual([]);
  });
});

describe('choosing the path by size', () => {
  it('2.9 MB of attachments → one sendMail request', async () => {
    const a = randomBuffer(Math.round(1.45 * MiB));
    const b = randomBuffer(Math.round(1.45 * MiB));
    const result = await sendOne({ attachments: [{ filename: 'a.bin', content: a }, { filename: 'b.bin', content: b }] });
    expect(result.email).toMatchObject({ status: 'sent', path: 'sendMail', attachments: 2 });
    expect(graphCalls().map((r) => `${r.method} ${r.path.replace(/.*\/v1\.0\/users\/[^/]+/, '')}`)).toEqual(['POST /sendMail']);
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.attachments.map((x) => x.sha256)).toEqual([sha256(a), sha256(b)]);
  });

  it('6 MB and 40 MB attachments → draft, upload sessions with PUTs of at most 4 MiB, one send; bytes identical', async () => {
    const six = randomBuffer(6_000_000);
    const forty = randomBuffer(40_000_000);
    const small = Buffer.from('small file in the draft');
    const result = await sendOne({
      payload: '<p>Big ones, and a logo <img src="cid:logo"></p>',
      attachments: [
        { filename: 'six.bin', content: six },
        { filename: 'small.txt', content: small },
        { filename: 'forty.zip', content: forty, cid: 'logo' },
      ],
      categories: ['Reports'],
      requestReadReceipt: true,
      headers: { 'X-Batch': '7' },
    });
    expect(result.error).toBeUndefined();
    expect(result.email).toMatchObject({ status: 'sent', path: 'uploadSession', attachments: 3, requestId: expect.any(String) });

    const mails = sandbox.mail(SANDBOX.senderEmail);
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail.path).toBe('uploadSession');
    expect(mail.requestId).toBe((result.email as { requestId: string }).requestId);
    expect(mail.message).toMatchObject({
      categories: ['Reports'],
      isReadReceiptRequested: true,
      internetMessageHeaders: [{ name: 'X-Batch', value: '7' }],
      body: { contentType: 'html' },
    });
    const byName = Object.fromEntries(mail.attachments.map((a) => [a.name, a]));
    expect(byName['small.txt']).toMatchObject({ via: 'inline', sha256: sha256(small) });
    expect(byName['six.bin']).toMatchObject({ via: 'upload', size: six.length, sha256: sha256(six), isInline: false });
    expect(byName['forty.zip']).toMatchObject({ via: 'upload', size: forty.length, sha256: sha256(forty), isInline: true, contentId: 'logo', contentType: 'application/zip' });

    const calls = graphCalls();
    const puts = calls.filter((r) => r.target === 'upload');
    expect(puts.every((r) => r.method === 'PUT' && r.status >= 200 && r.status < 300)).toBe(true);
    expect(Math.max(...puts.map((r) => r.bodyBytes ?? Infinity))).toBeLessThanOrEqual(4 * MiB);
    expect(puts.reduce((sum, r) => sum + (r.bodyBytes ?? 0), 0)).toBe(six.length + forty.length);
    expect(puts).toHaveLength(Math.ceil(six.length / UPLOAD_CHUNK_BYTES) + Math.ceil(forty.length / UPLOAD_CHUNK_BYTES));
    const steps = calls.filter((r) => r.target === 'graph').map((r) => `${r.method} ${r.path.replace(/.*\/v1\.0\/users\/[^/]+\/messages/, '').replace(/\/[^/]+(\/|$)/, '/{id}$1')}`);
    expect(steps).toEqual(['POST ', 'POST /{id}/attachments/createUploadSession', 'POST /{id}/attachments/createUploadSession', 'POST /{id}/send']);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
  });

  it("a 3,145,700-byte file (just under 3 MiB, over Graph's draft-attachment edge) goes by upload session and arrives intact", async () => {
    const edge = randomBuffer(3_145_700);
    const result = await sendOne({ attachments: [{ filename: 'edge.bin', content: edge }] });
    expect(result.error).toBeUndefined();
    expect(result.email).toMatchObject({ status: 'sent', path: 'uploadSession', attachments: 1 });
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.attachments).toEqual([expect.objectContaining({ name: 'edge.bin', via: 'upload', size: edge.length, sha256: sha256(edge) })]);
    expect(graphCalls().filter((r) => r.target === 'upload')).toHaveLength(1);
    expect(graphCalls().some((r) => r.status === 413)).toBe(false);
  });

  it('small attachments that do not fit in the draft request are added one by one', async () => {
    const parts = [randomBuffer(2_500_000), randomBuffer(2_500_000), randomBuffer(3_500_000)];
    const result = await sendOne({ attachments: parts.map((content, i) => ({ filename: `part${i}.bin`, content })) });
    expect(result.email).toMatchObject({ path: 'uploadSession', attachments: 3 });
    const steps = graphCalls().map((r) => `${r.method} ${r.path.replace(/.*\/messages/, '').replace(/^\/[^/]+/, '/{id}')}`);
    expect(steps.filter((s) => s === 'POST /{id}/attachments')).toHaveLength(1);
    const [mail] = sandbox.mail(SANDBOX.senderEmail);
    expect(mail.attachments.map((a) => a.sha256).sort()).toEqual(parts.map(sha256).sort());
  });
});

describe('when the upload path fails', () => {
  it('a PUT failing midway → draft deleted, nothing sent, msg.error says which step', async () => {
    sandbox.addFault({ target: 'upload', after: 2, status: 503 });
    // One attempt: with retries the mail would be built again (next test).
    await loadMailFlow(mailFlow(sandbox, { maxAttempts: 1 }));
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'x', payload: 'y', attachments: [{ filename: 'big.bin', content: randomBuffer(20_000_000) }] });
    await out.settled(1);
    await out.caughtAtLeast(1);
    expect(out.sent).toEqual([]);
    const error = out.failed[0].error as Record<string, unknown>;
    expect(error).toMatchObject({ category: 'server', status: 503, message: expect.stringContaining('errors.largeMailFailed') });
    expect(sandbox.mail()).toEqual([]);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    const calls = graphCalls();
    expect(calls.filter((r) => r.target === 'upload')).toHaveLength(3);
    expect(calls.at(-1)).toMatchObject({ method: 'DELETE', status: 204 });
    expect(calls.some((r) => r.path.endsWith('/send'))).toBe(false);
    expect(out.statuses.at(-1)).toMatchObject({ fill: 'red', shape: 'ring' });
  });

  it('a PUT failing midway with retries on → the draft is deleted and the mail built again and sent once', async () => {
    sandbox.addFault({ target: 'upload', after: 2, status: 503, retryAfter: '0' });
    await loadMailFlow(mailFlow(sandbox));
    const out = watchOutputs();
    const content = randomBuffer(20_000_000);
    send({ to: 'ada@example.com', topic: 'retried upload', payload: 'y', attachments: [{ filename: 'big.bin', content }] });
    await out.settled(1);
    expect(out.failed).toEqual([]);
    expect(out.sent[0].email).toMatchObject({ path: 'uploadSession', attempts: 2 });
    const mails = sandbox.mail();
    expect(mails).toHaveLength(1);
    expect(mails[0].attachments[0].sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expect(graphCalls().filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('the answer to send lost → unknown-outcome, and the draft (maybe the sent copy) is left alone', async () => {
    // The fifth request of the path: draft, upload session, two PUTs, send.
    sandbox.addFault({ target: 'graph', after: 4, action: 'reset-after' });
    const result = await sendOne({ attachments: [{ filename: 'big.bin', content: randomBuffer(5 * MiB) }] });
    expect(result.error).toMatchObject({ category: 'unknown-outcome', retryable: false });
    expect(sandbox.mail()).toHaveLength(1);
    expect(graphCalls().filter((r) => r.method === 'DELETE')).toEqual([]);
  });

  it('a draft over the tenant limit → size with Graph\'s code, draft deleted', async () => {
    const result = await sendOne({ attachments: [{ filename: 'huge.bin', content: Buffer.alloc(TENANT_LIMIT + MiB) }] });
    expect(result.error).toMatchObject({ category: 'size', graphCode: 'ErrorMessageSizeExceeded', code: 'ErrorMessageSizeExceeded' });
    expect(sandbox.mail()).toEqual([]);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
  });

  it('over 150 MB → size, refused before any request', async () => {
    // allocUnsafe leaves the pages untouched: no 151 MB of real memory for this check.
    const result = await sendOne({ attachments: [{ filename: 'too-big.bin', content: Buffer.allocUnsafe(151 * MiB) }] });
    expect(result.error).toMatchObject({ category: 'size', code: 'MessageTooLarge', message: expect.stringContaining('errors.messageOverGraphLimit'), hint: expect.stringContaining('hints.messageOverGraphLimit') });
    expect(sandbox.stats().tokenRequests).toBe(0);
    expect(graphCalls()).toEqual([]);
  });

  it('an app without Mail.ReadWrite: small mail goes, a large one fails with the Mail.ReadWrite hint', async () => {
    const connection = { applicationId: SANDBOX.mailSendOnlyApplicationId };
    await loadMailFlow(mailFlow(sandbox, {}, connection), SANDBOX.mailSendOnlyClientSecret);
    const out = watchOutputs();
    send({ to: 'ada@example.com', topic: 'small', payload: 'y', attachments: [{ filename: 'a.txt', content: 'a' }] });
    send({ to: 'ada@example.com', topic: 'large', payload: 'y', attachments: [{ filename: 'big.bin', content: randomBuffer(5 * MiB) }] });
    await out.settled(2);
    expect(out.sent.map((m) => m.topic)).toEqual(['small']);
    expect(out.failed[0].error).toMatchObject({
      category: 'permission',
      graphCode: 'ErrorAccessDenied',
      status: 403,
      hint: expect.stringContaining('hints.needsMailReadWrite'),
    });
    // The hint gives the scoped way (an RBAC role on the sender's scope), not a tenant-wide grant.
    const hint = english(String((out.failed[0].error as { hint: string }).hint));
    expect(hint).toContain('-Role "Application Mail.ReadWrite" -CustomResourceScope');
    expect(sandbox.mail().map((m) => m.message.subject)).toEqual(['small']);
    expect(sandbox.openItems()).toEqual({ drafts: 0, uploadSessions: 0 });
    expectNoLeaks([out.failed.map((m) => m.error), out.sent.map((m) => m.email), out.caught.map((m) => m.error), out.statuses, logText()], sandbox);
  });

  it('no upload URL credential and no Authorization header leak: PUTs carry none, errors hold neither', async () => {
    sandbox.addFault({ target: 'upload', after: 1, status: 500 });
    const result = await sendOne({ attachments: [{ filename: 'big.bin', content: randomBuffer(9 * MiB) }] });
    expect(result.error).toMatchObject({ category: 'server' });
    // The sandbox answers 401 to a PUT with an Authorization header: both PUTs got past that check.
    const puts = graphCalls().filter((r) => r.target === 'upload');
    expect(puts.map((r) => r.status)).toEqual([200, 500]);
    // Everything that came out but the file itself (serialising 9 MiB as JSON numbers is slow).
    const { attachments: _file, ...rest } = result;
    expect(JSON.stringify(rest)).not.toContain('authtoken');
    expectNoLeaks([rest, logText()], sandbox);
  });
});
