/**
 * Senders and conversations (issue 16) in the email task's dialog, in a real browser (Debian's
 * Chromium via playwright-core) against Node-RED with the packed tarball and the sandbox: the
 * Authorisation tab's Type (Connection / Connection by key), the From field, the Action with its
 * Message id row, and Return message ids. Each choice is deployed from the editor and a mail sent
 * through it. Nothing waits on time: every step waits on a selector, a response or the log.
 */
import path from 'node:path';
import axios from 'axios';
import type { Locator, Page } from 'playwright-core';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { EMAIL_TASK_DEFAULTS } from '../../nodes/lib/settings';
import { expectNoLeaks } from '../support/leaks';
import { openEditor, type OpenEditor, type RunningNodeRed } from './node-red';

jest.setTimeout(300_000);

const SHOTS = path.join(__dirname, '..', '..', 'test-output', 'browser', 'senders');
const ENDPOINT = '/senders-mail';
const REPORTS = 'reports@contoso.onmicrosoft.com';
const TAB = 'f6f0c0de00000001';
const CONNECTION = 'f6f0c0de00000002';
const TASK = 'f6f0c0de00000004';
/** What issue 16 added to the email task: a flow saved before it lacks these. */
const NEW_IN_16 = ['authType', 'from', 'fromType', 'action', 'messageId', 'messageIdType', 'connectionKey', 'connectionKeyType', 'returnMessageIds'];
const BEFORE_16 = Object.fromEntries(Object.entries(EMAIL_TASK_DEFAULTS).filter(([k]) => !NEW_IN_16.includes(k)));

let editor: OpenEditor;
let sandbox: Sandbox;
let nodeRed: RunningNodeRed;
let page: Page;
let shot = 0;

/**
 * An endpoint → email task (msg.payload's fields) → the answer: msg.email, or msg.error with 502. The
 * task is as a flow saved before issue 16 has it: without From, Action, Message id or Key.
 */
function startingFlow(sandboxUrl: string): Array<Record<string, unknown>> {
  return [
    { id: TAB, type: 'tab', label: 'Senders' },
    {
      id: CONNECTION, type: 'office365-mail-connection', key: 'sandbox', name: 'Sandbox', tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId,
      senderEmail: SANDBOX.senderEmail, allowedMailboxes: REPORTS, cloud: 'custom', loginUrl: sandboxUrl, graphUrl: sandboxUrl, queueSize: 1000, maxRecipients: 500,
      credentials: { clientSecret: SANDBOX.clientSecret },
    },
    { id: 'f6f0c0de00000003', type: 'http in', z: TAB, name: `POST ${ENDPOINT}`, url: ENDPOINT, method: 'post', upload: false, x: 130, y: 120, wires: [[TASK]] },
    {
      id: TASK, type: 'email-task', z: TAB, name: 'mail', ...BEFORE_16, connection: CONNECTION,
      to: 'payload.to', toType: 'msg', subject: 'payload.subject', subjectType: 'msg', body: 'payload.body', bodyType: 'msg',
      x: 360, y: 120, wires: [['f6f0c0de00000005'], ['f6f0c0de00000006']],
    },
    { id: 'f6f0c0de00000005', type: 'change', z: TAB, name: 'sent', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'email', tot: 'msg' }], x: 580, y: 80, wires: [['f6f0c0de00000007']] },
    {
      id: 'f6f0c0de00000006', type: 'change', z: TAB, name: 'failed',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' }, { t: 'set', p: 'statusCode', pt: 'msg', to: '502', tot: 'num' }],
      x: 580, y: 160, wires: [['f6f0c0de00000007']],
    },
    { id: 'f6f0c0de00000007', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 780, y: 120, wires: [] },
  ];
}

async function screenshot(name: string): Promise<void> {
  shot++;
  await page.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

function node(id: string): Locator {
  return page.locator(`g.red-ui-flow-node-group[id="${id}"]`);
}

/** Deploys as a user does (an invalid node would stop at Node-RED's confirmation: closeTask checks). */
async function deploy(): Promise<void> {
  const before = nodeRed.log().length;
  const deployed = page.waitForResponse((res) => res.url().endsWith('/flows') && res.request().method() === 'POST');
  await page.click('#red-ui-header-button-deploy');
  expect((await deployed).status()).toBe(200);
  await nodeRed.waitForLog('Started flows', before);
  await page.locator('#red-ui-header-button-deploy.disabled').waitFor();
}

async function trigger(body: Record<string, unknown>): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await axios.post(`${nodeRed.url}${ENDPOINT}`, body, { validateStatus: () => true });
  return { status: res.status, data: res.data as Record<string, unknown> };
}

async function openTask(tab: 'message' | 'authorisation' | 'advanced'): Promise<void> {
  await node(TASK).dblclick();
  await page.locator('#email-task-tabs').waitFor();
  await page.click(`#email-task-tabs a[href="#email-task-tab-${tab}"]`);
}

/** Done, and the task is valid (an invalid one would stop the deploy at Node-RED's confirmation). */
async function closeTask(): Promise<void> {
  await page.click('#node-dialog-ok');
  await page.locator('#email-task-tabs').waitFor({ state: 'detached' });
  expect(await page.evaluate((id) => (window as unknown as { RED: { nodes: { node: (i: string) => { valid: boolean } } } }).RED.nodes.node(id).valid, TASK)).toBe(true);
}

/** Sets a typedInput's type and value as a user does, and says whether the dialog marks it invalid. */
async function setTyped(prop: string, type: string, value: string): Promise<boolean> {
  await page.evaluate(([p, t]) => (window as unknown as { $: (s: string) => { typedInput: (m: string, v: string) => void } }).$(`#node-input-${p}`).typedInput('type', t), [prop, type]);
  const field = page.locator(`#node-input-${prop} + .red-ui-typedInput-container input.red-ui-typedInput-input`);
  await field.fill(value);
  await field.press('Tab');
  expect(await page.inputValue(`#node-input-${prop}`)).toBe(value);
  return page.locator(`#node-input-${prop}`).evaluate((el) => el.classList.contains('input-error'));
}

/** Whether every row with this class is shown (true), every one hidden (false). */
async function rowsShown(cls: string): Promise<boolean> {
  const states = await page.locator(`.${cls}`).evaluateAll((els) => els.map((el) => (el as HTMLElement).offsetParent !== null));
  expect(states.length).toBeGreaterThan(0);
  expect(new Set(states).size).toBe(1);
  return states[0];
}

/** The task's properties as the runtime has them deployed. */
async function deployedTask(): Promise<Record<string, unknown>> {
  const flows = (await axios.get(`${nodeRed.url}/flows`)).data as Array<Record<string, unknown>>;
  return flows.find((n) => n.id === TASK) as Record<string, unknown>;
}

beforeAll(async () => {
  editor = await openEditor({ shots: SHOTS, flow: (s) => startingFlow(s.url) });
  ({ sandbox, nodeRed, page } = editor);
});

afterAll(() => editor?.close());

test('Type, From, Action with Message id, Return message ids: shown, checked and deployed', async () => {
  try {
    await scenario();
  } catch (err) {
    await screenshot('failure');
    throw err;
  }
});

async function scenario(): Promise<void> {
  await page.goto(nodeRed.url);
  await node(TASK).waitFor();
  // The starting flow's connection is complete, so a deploy asks nothing.
  expect(await page.evaluate((id) => (window as unknown as { RED: { nodes: { node: (i: string) => { validationErrors?: string[] } } } }).RED.nodes.node(id).validationErrors ?? [], CONNECTION)).toEqual([]);

  // 1. Authorisation, Type "Connection" (what a flow without authType means): the picker's rows, not the Key's.
  await openTask('authorisation');
  expect(await page.inputValue('#node-input-authType')).toBe('connection');
  expect(await rowsShown('email-task-connection-row')).toBe(true);
  expect(await rowsShown('email-task-key-row')).toBe(false);

  // "Connection by key": the Key's rows instead; a fixed Key is checked as the connection's own Key field is.
  await page.selectOption('#node-input-authType', 'connectionKey');
  expect(await rowsShown('email-task-key-row')).toBe(true);
  expect(await rowsShown('email-task-connection-row')).toBe(false);
  expect(await page.inputValue('#node-input-connectionKeyType')).toBe('msg');
  expect(await page.inputValue('#node-input-connectionKey')).toBe('connection');
  expect(await setTyped('connectionKey', 'str', 'no such key!')).toBe(true);
  expect(await setTyped('connectionKey', 'str', '')).toBe(true);
  expect(await setTyped('connectionKey', 'str', 'sandbox')).toBe(false);
  // Per message from the request: msg.payload.connection.
  expect(await setTyped('connectionKey', 'msg', 'payload.connection')).toBe(false);
  await screenshot('type-connection-by-key');
  await closeTask();
  await deploy();
  expect(await deployedTask()).toMatchObject({ authType: 'connectionKey', connectionKey: 'payload.connection', connectionKeyType: 'msg' });
  const byKey = await trigger({ connection: 'sandbox', to: 'ada@example.com', subject: 'by key', body: 'x' });
  expect(byKey).toMatchObject({ status: 200, data: { status: 'sent', sender: SANDBOX.senderEmail } });
  const unknownKey = await trigger({ connection: 'nobody', to: 'ada@example.com', subject: 'unknown key', body: 'x' });
  expect(unknownKey.status).toBe(502);
  expect(unknownKey.data).toMatchObject({ category: 'validation' });
  expect(String(unknownKey.data.message)).toContain('nobody');

  // Back to "Connection": the picker again, with the connection it had.
  await openTask('authorisation');
  await page.selectOption('#node-input-authType', 'connection');
  expect(await rowsShown('email-task-connection-row')).toBe(true);
  expect(await rowsShown('email-task-key-row')).toBe(false);
  expect(await page.inputValue('#node-input-connection')).toBe(CONNECTION);
  await closeTask();
  await deploy();
  expect(await deployedTask()).toMatchObject({ authType: 'connection', connection: CONNECTION });
  expect(await trigger({ connection: 'nobody', to: 'ada@example.com', subject: 'by connection', body: 'x' })).toMatchObject({ status: 200, data: { status: 'sent' } });

  // 2. From: default msg.from; a fixed value must be one address (display name allowed).
  await openTask('message');
  expect(await page.inputValue('#node-input-fromType')).toBe('msg');
  expect(await page.inputValue('#node-input-from')).toBe('from');
  expect(await setTyped('from', 'str', 'not an address')).toBe(true);
  expect(await setTyped('from', 'str', `${SANDBOX.senderEmail}; ${REPORTS}`)).toBe(true);
  expect(await setTyped('from', 'str', `Reports <${REPORTS}>`)).toBe(false);
  await screenshot('from-fixed');
  await closeTask();
  await deploy();
  expect(await deployedTask()).toMatchObject({ from: `Reports <${REPORTS}>`, fromType: 'str' });
  expect(await trigger({ to: 'ada@example.com', subject: 'from reports', body: 'x' })).toMatchObject({ status: 200, data: { status: 'sent', sender: REPORTS } });
  expect(sandbox.mail(REPORTS).map((m) => m.message.subject)).toEqual(['from reports']);

  // 3. Action: the Message id row only for reply, reply all and forward.
  await openTask('message');
  expect(await setTyped('from', 'msg', 'from')).toBe(false);
  expect(await page.inputValue('#node-input-action')).toBe('send');
  expect(await rowsShown('email-task-answer-row')).toBe(false);
  for (const action of ['reply', 'replyAll', 'forward', 'send']) {
    await page.selectOption('#node-input-action', action);
    expect(await rowsShown('email-task-answer-row')).toBe(action !== 'send');
  }
  await page.selectOption('#node-input-action', 'reply');
  expect(await page.inputValue('#node-input-messageIdType')).toBe('msg');
  expect(await page.inputValue('#node-input-messageId')).toBe('mail.id');
  expect(await setTyped('messageId', 'msg', 'payload.messageId')).toBe(false);
  await screenshot('action-reply');
  await closeTask();
  await deploy();
  expect(await deployedTask()).toMatchObject({ action: 'reply', messageId: 'payload.messageId', messageIdType: 'msg', fromType: 'msg' });
  const original = sandbox.injectMail(SANDBOX.senderEmail, { from: REPORTS, subject: 'Question', text: 'Can you help?' });
  const reply = await trigger({ messageId: original.id, body: 'Thanks' });
  expect(reply).toMatchObject({ status: 200, data: { status: 'sent', path: 'reply', sender: SANDBOX.senderEmail } });
  expect(sandbox.messages(REPORTS, 'inbox')).toEqual([expect.objectContaining({ subject: 'RE: Question', conversationId: original.conversationId })]);

  // 4. Return message ids (Advanced), with Action back to send: the ids come back.
  await openTask('message');
  await page.selectOption('#node-input-action', 'send');
  expect(await rowsShown('email-task-answer-row')).toBe(false);
  await closeTask();
  await openTask('advanced');
  expect(await page.isChecked('#node-input-returnMessageIds')).toBe(false);
  await page.click('label[for="node-input-returnMessageIds"]');
  expect(await page.isChecked('#node-input-returnMessageIds')).toBe(true);
  await screenshot('return-message-ids');
  await closeTask();
  await deploy();
  expect(await deployedTask()).toMatchObject({ action: 'send', returnMessageIds: true });
  const tracked = await trigger({ to: 'ada@example.com', subject: 'tracked', body: 'x' });
  expect(tracked).toMatchObject({ status: 200, data: { status: 'sent', messageId: expect.any(String), internetMessageId: expect.any(String), conversationId: expect.any(String) } });

  // Nothing secret reached the editor, the flows or the log.
  const flows = await axios.get(`${nodeRed.url}/flows`);
  expectNoLeaks([flows.data, await page.content(), nodeRed.log()], sandbox);
}
