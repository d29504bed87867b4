/**
 * The example flows users import (Import → Examples) run as shipped against the sandbox: only the
 * connection is pointed at the sandbox, and the ends where a user would look (debug nodes, the
 * one-minute delay) are swapped for helper nodes the test can wait on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Node, NodeMessage } from 'node-red';
import { SANDBOX } from '../../sandbox/config';
import { EXAMPLE_CONNECTION_ID, mailInLoop, sandboxStartFlow } from '../../scripts/local-node-red';
import { catchNode, connectionNode, emailTaskNode, exampleWithSandbox, helper, useSandboxAndRuntime, useTempUserDir, type FlowNode } from '../support/node-red';

/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes, as the runtime loads them */
const core = ['common/21-debug.js', 'function/15-change.js', 'function/10-switch.js', 'function/89-delay.js', 'function/80-template.js', 'common/20-inject.js', 'common/90-comment.js'].map(
  (file) => require(`@node-red/nodes/core/${file}`),
);
const mailInNode = require(path.join(__dirname, '..', '..', 'dist', 'nodes', 'office365-mail-in.js'));
/* eslint-enable @typescript-eslint/no-require-imports */

const sandbox = useSandboxAndRuntime();
const examples = path.join(__dirname, '..', '..', 'examples');
type Msg = NodeMessage & Record<string, unknown>;

function load(file: string, swap: string[], taskOverrides: Record<string, unknown> = {}): Promise<void> {
  const example = exampleWithSandbox(file, sandbox());
  const flow = example.flow.map((n): FlowNode => {
    if (swap.includes(n.id)) return { id: n.id, type: 'helper', z: n.z, wires: [] };
    if (n.type === 'email-task') return { ...n, ...taskOverrides };
    return n;
  });
  return helper.load([connectionNode, emailTaskNode, catchNode, ...core], flow, example.credentials);
}

function next(id: string): Promise<Msg> {
  return new Promise((resolve) => (helper.getNode(id) as Node).once('input', (msg: Msg) => resolve(msg)));
}

describe('example flows', () => {
  it('every example parses, wires only its own nodes, and uses the one example connection id', () => {
    const files = fs.readdirSync(examples).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const flow = JSON.parse(fs.readFileSync(path.join(examples, file), 'utf8')) as FlowNode[];
      const ids = new Set(flow.map((n) => n.id));
      expect(flow.filter((n) => n.type === 'office365-mail-connection')).toEqual([]);
      for (const task of flow.filter((n) => n.type === 'email-task' || n.type === 'office365-mail-in')) expect(task.connection).toBe(EXAMPLE_CONNECTION_ID);
      for (const n of flow) for (const port of (n.wires as string[][] | undefined) ?? []) for (const target of port) expect(ids.has(target)).toBe(true);
    }
  });

  it('no two examples, nor the flow npm start deploys, share a node id: importing one beside another adds nodes', () => {
    const seen = new Map<string, string>();
    const sets: Array<[string, FlowNode[]]> = fs
      .readdirSync(examples)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(fs.readFileSync(path.join(examples, f), 'utf8')) as FlowNode[]]);
    const startFlow = sandboxStartFlow('https://127.0.0.1:8443');
    sets.push(['npm start', [...startFlow, ...mailInLoop(startFlow)].filter((n) => n.id !== EXAMPLE_CONNECTION_ID)]);
    const clashes: string[] = [];
    for (const [name, flow] of sets) {
      for (const n of flow) {
        const other = seen.get(n.id);
        if (other !== undefined) clashes.push(`${n.id} in ${name} and ${other}`);
        seen.set(n.id, name);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('HTML with an inline logo and an attachment: templated subject and body, cid image, CSV file', async () => {
    await load('send-html-with-inline-logo.json', ['b2f0c0de00000007', 'b2f0c0de00000008']);
    const sent = next('b2f0c0de00000007');
    (helper.getNode('b2f0c0de00000003') as Node).receive({});
    const msg = await sent;
    expect(msg.email).toMatchObject({ status: 'sent', subject: 'Report for Ada', to: ['ada@example.com'], attachments: 2 });
    const [mail] = sandbox().mail(SANDBOX.senderEmail);
    const message = mail.message as { subject: string; body: { contentType: string; content: string } };
    expect(message.subject).toBe('Report for Ada');
    expect(message.body.contentType.toLowerCase()).toBe('html');
    expect(message.body.content).toContain('<img src="cid:logo"');
    expect(message.body.content).toContain('<td>gadgets</td>');
    const attachments = mail.attachments as unknown as Array<{ name: string; isInline?: boolean; contentId?: string; contentType?: string }>;
    expect(attachments.map((a) => ({ name: a.name, isInline: Boolean(a.isInline), contentId: a.contentId ?? null }))).toEqual([
      { name: 'logo.png', isInline: true, contentId: 'logo' },
      { name: 'report.csv', isInline: false, contentId: null },
    ]);
  });

  describe('with a temporary user directory', () => {
    // email in keeps its cursor under the user directory: a temporary one for each test.
    useTempUserDir({ prefix: 'example-' });

    it('process incoming orders: a mail with a CSV is confirmed to its sender, one without raises the alert', async () => {
      const example = exampleWithSandbox('process-incoming-orders.json', sandbox());
      const debug = ['d4f0c0de0000000b', 'd4f0c0de0000000c', 'd4f0c0de0000000e'];
      const flow = example.flow.map((n): FlowNode => (debug.includes(n.id) ? { id: n.id, type: 'helper', z: n.z, wires: [] } : n));
      await helper.load([connectionNode, emailTaskNode, mailInNode, catchNode, ...core], flow, example.credentials);
      const mailIn = helper.getNode('d4f0c0de00000003') as Node & { pollNow: () => Promise<unknown> };
      await mailIn.pollNow();
      const csv = Buffer.from('sku,qty\nA42,3\n');
      sandbox().injectMail(SANDBOX.senderEmail, { subject: 'Order 7', from: 'customer@example.com', text: 'see attached', attachments: [{ name: 'order.csv', contentType: 'text/csv', contentBytes: csv.toString('base64') }] });
      sandbox().injectMail(SANDBOX.senderEmail, { subject: 'Where is my parcel?', from: 'other@example.com', text: 'no file' });
      const sent: Msg[] = [];
      const both = new Promise<void>((resolve) => (helper.getNode('d4f0c0de0000000b') as Node).on('input', (msg: Msg) => sent.push(msg) === 2 && resolve()));
      await mailIn.pollNow();
      await both;
      const mails = sandbox().mail(SANDBOX.senderEmail).map((m) => m.message as { subject: string; toRecipients: Array<{ emailAddress: { address: string } }>; body: { content: string } });
      const confirmation = mails.find((m) => m.subject === 'Re: Order 7');
      expect(confirmation?.toRecipients[0].emailAddress.address).toBe('customer@example.com');
      expect(confirmation?.body.content).toContain(`We received order.csv (${csv.length} bytes)`);
      const alert = mails.find((m) => m.subject === 'Order mail without a CSV');
      expect(alert?.toRecipients[0].emailAddress.address).toBe('orders-team@example.com');
      expect(alert?.body.content).toContain('A mail from other@example.com arrived without an order file');
    });

    it('answer incoming mail: a mail is answered in its thread in the original sender\'s mailbox, an automatic one is left alone', async () => {
      const example = exampleWithSandbox('answer-incoming-mail.json', sandbox());
      const debug = ['e5f0c0de00000008', 'e5f0c0de00000009', 'e5f0c0de0000000a'];
      const flow = example.flow.map((n): FlowNode => (debug.includes(n.id) ? { id: n.id, type: 'helper', z: n.z, wires: [] } : n));
      await helper.load([connectionNode, emailTaskNode, mailInNode, catchNode, ...core], flow, example.credentials);
      const mailIn = helper.getNode('e5f0c0de00000003') as Node & { pollNow: () => Promise<unknown> };
      // Start "new": the first poll only takes the Inbox's state; what arrives after it is answered.
      await mailIn.pollNow();
      const reports = 'reports@contoso.onmicrosoft.com';
      const original = sandbox().injectMail(SANDBOX.senderEmail, { subject: 'Question', from: reports, text: 'Can you help?' });
      sandbox().injectMail(SANDBOX.senderEmail, { subject: 'Delivery report', from: 'no-reply@example.com', text: 'automatic' });
      const answered = next('e5f0c0de00000008');
      const skipped = next('e5f0c0de00000009');
      const failed: Msg[] = [];
      (helper.getNode('e5f0c0de0000000a') as Node).on('input', (msg: Msg) => failed.push(msg));
      await mailIn.pollNow();
      const [done, automatic] = await Promise.all([answered, skipped]);
      expect(failed).toEqual([]);
      expect(automatic.from).toBe('no-reply@example.com');
      expect(done.email).toMatchObject({ status: 'sent', path: 'reply', sender: SANDBOX.senderEmail });
      const [reply] = sandbox().messages(reports, 'inbox');
      expect(reply).toMatchObject({ subject: 'RE: Question', conversationId: original.conversationId, from: SANDBOX.senderEmail });
      const sent = sandbox().mail(SANDBOX.senderEmail);
      expect(sent.map((m) => m.path)).toEqual(['reply']);
      expect((sent[0].message as { body: { content: string } }).body.content).toContain('Thank you for your mail "Question".');
    });
  });

  it('failure handling: a passing failure goes to "retry in 1 minute" with the try counted', async () => {
    // One try per message here, so the sandbox's 503 reaches the failed output at once.
    await load('failed-mail-retry-or-alert.json', ['c3f0c0de00000008', 'c3f0c0de00000010', 'c3f0c0de00000012'], { maxAttempts: 1 });
    sandbox().addFault({ target: 'sendMail', status: 503, times: 1 });
    const retry = next('c3f0c0de00000008');
    (helper.getNode('c3f0c0de00000003') as Node).receive({});
    const msg = await retry;
    expect(msg.retries).toBe(1);
    expect(msg.error).toBeUndefined();
    expect(msg.topic).toBe('Pump 3 stopped');
  });

  it('failure handling: a failure no retry can fix raises the alert, and the catch node sees it too', async () => {
    await load('failed-mail-retry-or-alert.json', ['c3f0c0de00000008', 'c3f0c0de00000010', 'c3f0c0de00000012'], { maxAttempts: 1, to: 'not an address', toType: 'str' });
    const alert = next('c3f0c0de00000010');
    const caught = next('c3f0c0de00000012');
    (helper.getNode('c3f0c0de00000003') as Node).receive({});
    expect(String((await alert).payload)).toMatch(/^Mail "Pump 3 stopped" was not sent \(validation, /);
    expect((await caught)._error).toMatchObject({ category: 'validation' });
    expect(sandbox().mail(SANDBOX.senderEmail)).toEqual([]);
  });
});
