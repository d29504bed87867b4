/**
 * Flows written for node-red-node-email's send node, unchanged, through a real Node-RED runtime to
 * the sandbox. One case per row of the table in docs/migration.md ("Moving from node-red-node-email"); the last
 * test checks that every property the table lists has its case here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { SentMail } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { connectionNode, emailTaskNode, exampleWithSandbox, helper, loadMailFlow, mailFlow, send, useSandboxAndRuntime, watchOutputs, type OutMsg } from '../support/node-red';

const currentSandbox = useSandboxAndRuntime();
let loaded = false;
beforeEach(() => {
  loaded = false;
});

interface Outcome {
  out: OutMsg;
  mail?: SentMail;
}

async function sendAsEmailNode(msg: Record<string, unknown>, task: Record<string, unknown> = {}): Promise<Outcome> {
  const sandbox = currentSandbox();
  // One flow per message, so each case can vary the task; the sandbox then holds only this mail.
  if (loaded) await helper.unload();
  sandbox.reset();
  await loadMailFlow(mailFlow(sandbox, task));
  loaded = true;
  const out = watchOutputs();
  send(msg);
  await out.settled(1);
  return { out: out.sent[0] ?? out.failed[0], mail: sandbox.mail(SANDBOX.senderEmail)[0] };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

/** Property (as the table in docs/migration.md names it) → what a flow sends and what must come of it. */
const cases: Record<string, () => Promise<void>> = {
  'msg.payload': async () => {
    const text = await sendAsEmailNode({ to: 'a@example.com', payload: 'plain words' });
    expect(text.mail?.message.body).toEqual({ contentType: 'text', content: 'plain words' });
    const html = await sendAsEmailNode({ to: 'a@example.com', payload: '<h1>Report</h1><p>done</p>' });
    expect(html.mail?.message.body).toEqual({ contentType: 'html', content: '<h1>Report</h1><p>done</p>' });
    const object = await sendAsEmailNode({ to: 'a@example.com', payload: { temperature: 21.5 } });
    expect(object.mail?.message.body).toEqual({ contentType: 'text', content: '{\n  "temperature": 21.5\n}' });
    const file = await sendAsEmailNode({ to: 'a@example.com', payload: png });
    expect(file.mail?.attachments).toEqual([expect.objectContaining({ name: 'attachment.png', contentType: 'image/png', sha256: sha256(png) })]);
  },
  'msg.filename': async () => {
    const { mail } = await sendAsEmailNode({ to: 'a@example.com', payload: Buffer.from('a,b\n'), filename: '/home/pi/exports/data.csv' });
    expect(mail?.attachments).toEqual([expect.objectContaining({ name: 'data.csv', contentType: 'text/csv', sha256: sha256(Buffer.from('a,b\n')) })]);
  },
  'msg.description': async () => {
    const { mail } = await sendAsEmailNode({ to: 'a@example.com', payload: png, filename: 'cam.png', description: 'Snapshot from the door camera' });
    expect(mail?.message.body).toEqual({ contentType: 'text', content: 'Snapshot from the door camera' });
    expect(mail?.attachments.map((a) => a.name)).toEqual(['cam.png']);
  },
  'msg.topic': async () => {
    expect((await sendAsEmailNode({ to: 'a@example.com', topic: 'Alarm', payload: 'x' })).mail?.message.subject).toBe('Alarm');
    expect((await sendAsEmailNode({ to: 'a@example.com', topic: '', title: 'not used', payload: 'x' })).mail?.message.subject).toBe('');
  },
  'msg.title': async () => {
    expect((await sendAsEmailNode({ to: 'a@example.com', title: 'From title', payload: 'x' })).mail?.message.subject).toBe('From title');
  },
  'msg.to': async () => {
    const { mail, out } = await sendAsEmailNode({ to: 'Ada <ada@example.com>, bob@example.com', payload: 'x' });
    expect(mail?.message.toRecipients).toEqual([{ emailAddress: { address: 'ada@example.com', name: 'Ada' } }, { emailAddress: { address: 'bob@example.com' } }]);
    expect(out.email).toMatchObject({ to: ['ada@example.com', 'bob@example.com'] });
  },
  'msg.cc': async () => {
    // The e-mail node drops cc/bcc/replyTo when its To field is set; here they always count.
    const { mail } = await sendAsEmailNode({ to: 'ignored@example.com', cc: 'carol@example.com', payload: 'x' }, { to: 'ops@example.com', toType: 'str' });
    expect(mail?.message.toRecipients).toEqual([{ emailAddress: { address: 'ops@example.com' } }]);
    expect(mail?.message.ccRecipients).toEqual([{ emailAddress: { address: 'carol@example.com' } }]);
  },
  'msg.bcc': async () => {
    const { mail } = await sendAsEmailNode({ bcc: ['dan@example.com', { address: 'eve@example.com', name: 'Eve' }], payload: 'x' }, { to: 'ops@example.com', toType: 'str' });
    expect(mail?.message.bccRecipients).toEqual([{ emailAddress: { address: 'dan@example.com' } }, { emailAddress: { address: 'eve@example.com', name: 'Eve' } }]);
  },
  'msg.replyTo': async () => {
    const { mail } = await sendAsEmailNode({ replyTo: 'help@example.com', payload: 'x' }, { to: 'ops@example.com', toType: 'str' });
    expect(mail?.message.replyTo).toEqual([{ emailAddress: { address: 'help@example.com' } }]);
  },
  'msg.attachments': async () => {
    const pdf = Buffer.from('%PDF-1.4 fake');
    const { mail, out } = await sendAsEmailNode({
      to: 'a@example.com',
      payload: '<p>Logo: <img src="cid:logo"></p>',
      attachments: [
        { filename: 'text.txt', content: 'hello' },
        { filename: 'doc.pdf', content: pdf.toString('base64'), encoding: 'base64' },
        { filename: 'logo.png', content: png, cid: 'logo' },
        { filename: 'data', content: Buffer.from('{}'), contentType: 'application/json' },
      ],
    });
    expect(out.email).toMatchObject({ attachments: 4, path: 'sendMail' });
    expect(mail?.attachments.map((a) => [a.name, a.contentType, a.sha256, a.isInline, a.contentId])).toEqual([
      ['text.txt', 'text/plain', sha256(Buffer.from('hello')), false, undefined],
      ['doc.pdf', 'application/pdf', sha256(pdf), false, undefined],
      ['logo.png', 'image/png', sha256(png), true, 'logo'],
      ['data', 'application/json', sha256(Buffer.from('{}')), false, undefined],
    ]);
    const single = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', attachments: { filename: 'one.txt', content: 'one' } });
    expect(single.out.email).toMatchObject({ attachments: 1 });
    const byPath = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', attachments: [{ filename: 'r.pdf', path: '/tmp/r.pdf' }] });
    expect(byPath.out.error).toMatchObject({ category: 'validation', code: 'InvalidAttachment', hint: expect.stringContaining('hints.attachmentPath') });
  },
  'msg.priority': async () => {
    for (const [priority, importance] of [['high', 'high'], ['low', 'low'], [1, 'high'], ['5', 'low']] as const) {
      const { mail } = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', priority });
      expect(mail?.message.importance).toBe(importance);
    }
    const normal = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', priority: 'normal' });
    expect(normal.mail?.message.importance).toBeUndefined();
    const bad = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', priority: 'urgent' });
    expect(bad.out.error).toMatchObject({ category: 'validation', code: 'InvalidImportance' });
  },
  'msg.headers': async () => {
    const ok = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', headers: { 'X-Ticket': 'T-1', 'x-count': 3 } });
    expect(ok.mail?.message.internetMessageHeaders).toEqual([{ name: 'X-Ticket', value: 'T-1' }, { name: 'x-count', value: '3' }]);
    const typed = await sendAsEmailNode({ to: 'a@example.com', payload: Buffer.from('a;b'), filename: 'x.dat', headers: { 'content-type': 'text/csv' } });
    expect(typed.mail?.attachments[0].contentType).toBe('text/csv');
    expect(typed.mail?.message.internetMessageHeaders).toBeUndefined();
    for (const [headers, key] of [
      [{ 'In-Reply-To': '<a@b>' }, 'headerName'],
      [{ 'X-Inject': 'a\r\nBcc: spy@evil.example' }, 'headerValue'],
      [Object.fromEntries(['1', '2', '3', '4', '5', '6'].map((n) => [`X-H${n}`, n])), 'tooManyHeaders'],
    ] as const) {
      const { out } = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', headers });
      expect(out.error).toMatchObject({ category: 'validation', message: expect.stringContaining(`errors.${key}`) });
    }
    expect(currentSandbox().mail()).toHaveLength(0);
  },
  'msg.from': async () => {
    const { mail } = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', from: 'ceo@contoso.onmicrosoft.com' });
    expect(mail?.sender).toBe(SANDBOX.senderEmail);
    expect(JSON.stringify(mail?.message)).not.toContain('ceo@');
  },
  'msg.inReplyTo': async () => ignored({ inReplyTo: '<123@mail.example>' }, '123@mail.example'),
  'msg.references': async () => ignored({ references: '<123@mail.example>' }, '123@mail.example'),
  'msg.header': async () => {
    const { mail } = await sendAsEmailNode({ to: 'a@example.com', topic: 'Order', payload: 'x', header: { 'message-id': '<9@mail.example>' } });
    expect(mail?.message.subject).toBe('Order');
    expect(JSON.stringify(mail?.message)).not.toContain('9@mail.example');
  },
  'msg.envelope': async () => ignored({ envelope: { from: 'bounce@example.com', to: ['other@example.com'] } }, 'bounce@example.com'),
  'msg.plaintext': async () => ignored({ payload: '<p>rich</p>', plaintext: 'PLAIN VERSION' }, 'PLAIN VERSION'),
  'msg.html': async () => {
    const { mail } = await sendAsEmailNode({ to: 'a@example.com', payload: 'text body', html: '<p>HTML VERSION</p>' });
    expect(mail?.message.body).toEqual({ contentType: 'text', content: 'text body' });
    const asBody = await sendAsEmailNode({ to: 'a@example.com', payload: 'text body', html: '<p>HTML VERSION</p>' }, { body: 'html', bodyType: 'msg' });
    expect(asBody.mail?.message.body).toEqual({ contentType: 'html', content: '<p>HTML VERSION</p>' });
  },
};

/** The mail goes out and nothing of `value` reaches Graph. */
async function ignored(extra: Record<string, unknown>, value: string): Promise<void> {
  const { mail, out } = await sendAsEmailNode({ to: 'a@example.com', topic: 't', payload: 'x', ...extra });
  expect(out.email).toMatchObject({ status: 'sent' });
  expect(JSON.stringify(mail?.message)).not.toContain(value);
}

describe('node-red-node-email send-node properties', () => {
  it.each(Object.keys(cases))('%s', async (property) => {
    await cases[property]();
  });

  it('every property in the table of docs/migration.md has its case here, and every case is in the table', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'migration.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => /^\|\s*`msg\./.test(line));
    const listed = rows.flatMap((row) => [...row.split('|')[1].matchAll(/`(msg\.[A-Za-z]+)/g)].map((m) => m[1]));
    expect(new Set(listed)).toEqual(new Set(Object.keys(cases)));
  });
});

describe('beyond the e-mail node', () => {
  it('receipts, categories and msg.importance reach Graph', async () => {
    const { mail, out } = await sendAsEmailNode({
      to: 'a@example.com',
      payload: 'x',
      requestReadReceipt: true,
      requestDeliveryReceipt: 'true',
      categories: 'Invoices, Finance',
      importance: 'low',
      priority: 'high',
    });
    expect(out.email).toMatchObject({ status: 'sent', path: 'sendMail' });
    expect(mail?.message).toMatchObject({
      isReadReceiptRequested: true,
      isDeliveryReceiptRequested: true,
      categories: ['Invoices', 'Finance'],
      // msg.importance wins over msg.priority.
      importance: 'low',
    });
    const none = await sendAsEmailNode({ to: 'a@example.com', payload: 'x', requestReadReceipt: false, categories: [] });
    expect(none.mail?.message).not.toHaveProperty('isReadReceiptRequested');
    expect(none.mail?.message).not.toHaveProperty('categories');
  });
});

describe('the example flow converted from the e-mail node', () => {
  /* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes, as the runtime loads them */
  const coreNodes = [
    require('@node-red/nodes/core/common/20-inject.js'),
    require('@node-red/nodes/core/common/90-comment.js'),
    require('@node-red/nodes/core/function/10-function.js'),
    require('@node-red/nodes/core/common/21-debug.js'),
  ];
  /* eslint-enable @typescript-eslint/no-require-imports */

  it('sends all three of its messages unchanged: report with inline logo, Buffer payload, large file', async () => {
    const sandbox = currentSandbox();
    const { flow, credentials } = exampleWithSandbox('moving-from-email-node.json', sandbox);
    await helper.load([connectionNode, emailTaskNode, ...coreNodes], flow, credentials);
    loaded = true;
    // What pressing each inject button does.
    for (const n of flow.filter((x) => x.type === 'inject')) helper.getNode(n.id).receive({});
    const mails = await sandbox.waitForMail(3, SANDBOX.senderEmail);
    const bySubject = Object.fromEntries(mails.map((m) => [String(m.message.subject), m]));
    expect(bySubject['Daily report']).toMatchObject({ path: 'sendMail', message: { importance: 'high', internetMessageHeaders: [{ name: 'X-Report', value: 'daily' }] } });
    expect(bySubject['Daily report'].attachments.map((a) => [a.name, a.isInline])).toEqual([['figures.csv', false], ['logo.png', true]]);
    expect(bySubject['Meter readings']).toMatchObject({ path: 'sendMail', message: { body: { content: 'The readings of this morning.' } } });
    expect(bySubject['Meter readings'].attachments.map((a) => a.name)).toEqual(['readings.csv']);
    expect(bySubject['Camera archive']).toMatchObject({ path: 'uploadSession' });
    expect(bySubject['Camera archive'].attachments).toEqual([expect.objectContaining({ name: 'archive.bin', size: 8 * 1024 * 1024, via: 'upload' })]);
  });
});
