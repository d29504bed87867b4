/**
 * The editor in a real browser (Debian's Chromium driven by playwright-core), against Node-RED with
 * the packed tarball installed and the sandbox running: a new user's path from the palette to a
 * sent mail, then a wrong secret found in the Usage Data sidebar. Screenshots of every step go to
 * test-output/browser/. Nothing waits on time: every step waits on a selector, a response or the log.
 */
import path from 'node:path';
import axios from 'axios';
import type { Browser, Locator, Page } from 'playwright-core';
import type { Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { expectNoLeaks } from '../support/leaks';
import { openEditor, type OpenEditor, type RunningNodeRed } from './node-red';

jest.setTimeout(300_000);

const SHOTS = path.join(__dirname, '..', '..', 'test-output', 'browser', process.env.NODE_RED_JS ? 'node-red-alt' : 'node-red');
const WRONG_SECRET = 'not-the-secret-value';
const ENDPOINT = '/browser-mail';
/** A second mailbox of the sandbox's tenant, permitted to the email in node's connection. */
const REPORTS = 'reports@contoso.onmicrosoft.com';

let editor: OpenEditor;
let sandbox: Sandbox;
let nodeRed: RunningNodeRed;
let browser: Browser;
let page: Page;
let shot = 0;

/** The flow a user already has: an endpoint whose answer and debug output wait for an email task. */
const startingFlow = [
  { id: 'b0000000000000a1', type: 'tab', label: 'Mail from HTTP' },
  { id: 'b0000000000000b1', type: 'http in', z: 'b0000000000000a1', name: 'POST /browser-mail', url: ENDPOINT, method: 'post', upload: false, x: 130, y: 120, wires: [[]] },
  {
    id: 'b0000000000000b2', type: 'change', z: 'b0000000000000a1', name: 'sent: answer msg.email',
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'email', tot: 'msg' }], x: 620, y: 80, wires: [['b0000000000000b4', 'b0000000000000b5']],
  },
  {
    id: 'b0000000000000b3', type: 'change', z: 'b0000000000000a1', name: 'failed: answer msg.error',
    rules: [
      { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
      { t: 'set', p: 'statusCode', pt: 'msg', to: '502', tot: 'num' },
    ],
    x: 620, y: 180, wires: [['b0000000000000b4', 'b0000000000000b5']],
  },
  { id: 'b0000000000000b4', type: 'http response', z: 'b0000000000000a1', name: '', statusCode: '', headers: {}, x: 870, y: 120, wires: [] },
  { id: 'b0000000000000b5', type: 'debug', z: 'b0000000000000a1', name: 'result', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 870, y: 200, wires: [] },
];

async function screenshot(name: string): Promise<void> {
  shot++;
  await page.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

function node(id: string): Locator {
  return page.locator(`g.red-ui-flow-node-group[id="${id}"]`);
}

async function centre(locator: Locator): Promise<{ x: number; y: number }> {
  const box = await locator.boundingBox();
  if (!box) throw new Error('element not visible');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Drags with the mouse, as a user does (jQuery UI and the view both listen to mouse events). */
async function drag(from: Locator, to: { x: number; y: number }): Promise<void> {
  const start = await centre(from);
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(start.x + 10, start.y + 10, { steps: 3 });
  await page.mouse.move(to.x, to.y, { steps: 15 });
  await page.mouse.up();
}

async function wire(fromId: string, port: number, toId: string): Promise<void> {
  const output = node(fromId).locator('.red-ui-flow-port-output .red-ui-flow-port').nth(port);
  await drag(output, await centre(node(toId).locator('.red-ui-flow-port-input .red-ui-flow-port')));
}

async function deploy(): Promise<void> {
  const before = nodeRed.log().length;
  await page.click('#red-ui-header-button-deploy');
  await nodeRed.waitForLog('Started flows', before);
  await page.locator('#red-ui-header-button-deploy.disabled').waitFor();
}

async function trigger(body: Record<string, unknown>): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await axios.post(`${nodeRed.url}${ENDPOINT}`, body, { validateStatus: () => true });
  return { status: res.status, data: res.data as Record<string, unknown> };
}

/** A typedInput's visible field sits in the container right after the hidden input with the property's id. */
async function fillTyped(prop: string, value: string): Promise<void> {
  const field = page.locator(`#node-input-${prop} + .red-ui-typedInput-container input.red-ui-typedInput-input`);
  await field.fill(value);
  await field.press('Tab');
  expect(await page.inputValue(`#node-input-${prop}`)).toBe(value);
}

/** Waits until the element shows the text (Playwright's own expect lives in @playwright/test, not here). */
async function shows(locator: Locator, text: string): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor();
}

/** The connection dialog's tabs: signin, mailbox, network, limits. */
async function connectionTab(tab: 'signin' | 'mailbox' | 'network' | 'limits'): Promise<void> {
  const link = `#office365-mail-connection-tabs a[href="#office365-mail-connection-tab-${tab}"]`;
  await page.click(link);
  // RED.tabs takes a second click on any tab within 400 ms as a double click and ignores it; it then
  // resets, so one more click is always a plain one.
  if (!(await page.locator(`#office365-mail-connection-tab-${tab}`).isVisible())) await page.click(link);
  await page.locator(`#office365-mail-connection-tab-${tab}`).waitFor();
}

async function openSidebar(id: string): Promise<void> {
  const tab = page.locator(`#red-ui-tab-${id} a`).first();
  if (await tab.isVisible()) await tab.click();
  // A narrow window folds tabs into a menu; the tab's action opens it either way.
  else await page.evaluate((tabId) => (window as unknown as { RED: { sidebar: { show: (t: string) => void } } }).RED.sidebar.show(tabId), id);
}

/** What fillSignIn types into a new connection's dialog; a field left out is not touched. */
interface SignIn {
  key?: string;
  name?: string;
  tenantId?: string;
  applicationId?: string;
  clientSecret?: string;
  senderEmail?: string;
  allowedMailboxes?: string;
  /** The custom cloud's login and Graph URL (the sandbox's). */
  customCloud?: string;
}

/**
 * Fills a new connection's dialog as a user does: the Sign-in tab's fields (it must be showing),
 * then, when any is given, the Mailbox & Cloud tab's, where it stays.
 */
async function fillSignIn(fields: SignIn): Promise<void> {
  for (const field of ['key', 'name', 'tenantId', 'applicationId', 'clientSecret'] as const) {
    const value = fields[field];
    if (value !== undefined) await page.fill(`#node-config-input-${field}`, value);
  }
  if (fields.senderEmail === undefined && fields.allowedMailboxes === undefined && fields.customCloud === undefined) return;
  await connectionTab('mailbox');
  if (fields.senderEmail !== undefined) await page.fill('#node-config-input-senderEmail', fields.senderEmail);
  if (fields.allowedMailboxes !== undefined) await page.fill('#node-config-input-allowedMailboxes', fields.allowedMailboxes);
  if (fields.customCloud !== undefined) {
    // A new connection is on the global cloud: the URL fields show only once Custom is chosen.
    expect(await page.locator('#node-config-input-loginUrl').isVisible()).toBe(false);
    await page.selectOption('#node-config-input-cloud', 'custom');
    await page.locator('#node-config-input-loginUrl').waitFor();
    await page.fill('#node-config-input-loginUrl', fields.customCloud);
    await page.fill('#node-config-input-graphUrl', fields.customCloud);
  }
}

beforeAll(async () => {
  editor = await openEditor({ shots: SHOTS, flow: () => startingFlow });
  ({ sandbox, nodeRed, browser, page } = editor);
});

afterAll(() => editor?.close());

test('from the palette to a sent mail, and a wrong secret found in Usage Data', async () => {
  try {
    await scenario();
  } catch (err) {
    await screenshot('failure');
    throw err;
  }
});

/** A fresh email task dragged beside the endpoint, its dialog open on the Authorisation tab. */
async function newTaskDialog(): Promise<string> {
  const before = await page.evaluate(() => (window as unknown as { RED: { nodes: { filterNodes: (f: { type: string }) => Array<{ id: string }> } } }).RED.nodes.filterNodes({ type: 'email-task' }).map((n) => n.id));
  const paletteNode = page.locator('.red-ui-palette-node[data-palette-type="email-task"]');
  await paletteNode.scrollIntoViewIfNeeded();
  const httpIn = await centre(node('b0000000000000b1'));
  await drag(paletteNode, { x: httpIn.x + 240, y: httpIn.y + 200 });
  const id = await page
    .waitForFunction((known) => {
      const RED = (window as unknown as { RED: { nodes: { filterNodes: (f: { type: string }) => Array<{ id: string }> } } }).RED;
      return RED.nodes.filterNodes({ type: 'email-task' }).map((n) => n.id).find((i) => !known.includes(i));
    }, before)
    .then((h) => h.jsonValue() as Promise<string>);
  await node(id).dblclick();
  await page.click('#email-task-tabs a[href="#email-task-tab-authorisation"]');
  return id;
}

async function scenario(): Promise<void> {
  await page.goto(nodeRed.url);
  await page.locator('g.red-ui-flow-node-group[id="b0000000000000b1"]').waitFor();
  await screenshot('editor-with-starting-flow');

  // 1. Drag an email task from the palette onto the workspace, between the endpoint and its answers.
  const paletteNode = page.locator('.red-ui-palette-node[data-palette-type="email-task"]');
  await paletteNode.scrollIntoViewIfNeeded();
  const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
  if (!chart) throw new Error('no workspace');
  const httpIn = await centre(node('b0000000000000b1'));
  await drag(paletteNode, { x: httpIn.x + 240, y: httpIn.y });
  const taskId = await page.waitForFunction(() => {
    const RED = (window as unknown as { RED: { nodes: { filterNodes: (f: { type: string }) => Array<{ id: string }> } } }).RED;
    return RED.nodes.filterNodes({ type: 'email-task' })[0]?.id;
  }).then((h) => h.jsonValue() as Promise<string>);
  await node(taskId).waitFor();
  await wire('b0000000000000b1', 0, taskId);
  await wire(taskId, 0, 'b0000000000000b2');
  await wire(taskId, 1, 'b0000000000000b3');
  await node(taskId).locator('.red-ui-flow-port-input').waitFor();
  expect(await page.evaluate((id) => {
    const RED = (window as unknown as { RED: { nodes: { filterLinks: (f: object) => unknown[] } } }).RED;
    return [RED.nodes.filterLinks({ target: { id } }).length, RED.nodes.filterLinks({ source: { id } }).length];
  }, taskId)).toEqual([1, 2]);
  await screenshot('email-task-dropped-and-wired');

  // 2. Open it: the Message tab with its typedInputs.
  await node(taskId).dblclick();
  await page.locator('#email-task-tabs').waitFor();
  await fillTyped('to', 'payload.to');
  await fillTyped('subject', 'payload.subject');
  await fillTyped('body', 'payload.body');
  await screenshot('email-task-message-tab');

  // 3. Authorisation tab: create a new connection from the picker and fill its dialog.
  await page.click('#email-task-tabs a[href="#email-task-tab-authorisation"]');
  await page.locator('#node-input-connection').waitFor();
  await screenshot('email-task-authorisation-tab');
  await page.click('#node-input-btn-connection-add');
  await page.locator('#node-config-input-key').waitFor();
  await fillSignIn({ key: 'sandbox', name: 'Sandbox', tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret });
  await screenshot('connection-dialog-sign-in-tab');
  await fillSignIn({ senderEmail: SANDBOX.senderEmail, customCloud: sandbox.url });
  await screenshot('connection-dialog-mailbox-tab');
  await connectionTab('signin');
  // Secret expires: a day that does not exist is marked; a real one is taken.
  await page.fill('#node-config-input-secretExpiresOn', '2027-02-30');
  await page.press('#node-config-input-secretExpiresOn', 'Tab');
  await page.locator('#node-config-input-secretExpiresOn.input-error').waitFor();
  // The UTC day 200 days ahead: the runtime counts to its midnight, rounded up (200 at any hour).
  const expires = new Date(Date.now() + 200 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('#node-config-input-secretExpiresOn', expires);
  await page.press('#node-config-input-secretExpiresOn', 'Tab');
  await page.locator('#node-config-input-secretExpiresOn:not(.input-error)').waitFor();
  await screenshot('connection-dialog-filled');

  // 4. Test connection: a token with Mail.Send, from the unsaved values.
  await page.click('#office365-mail-connection-test');
  const result = page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-ok');
  await result.waitFor();
  await shows(result, 'Token acquired');
  await shows(result, 'Mail.Send is granted');
  await shows(result, 'Mail.ReadWrite is granted: mails over 4 MB');
  await shows(result, `Secret expires on ${expires} (in 200 days)`);
  await result.scrollIntoViewIfNeeded();
  await screenshot('test-connection-success');
  await page.click('#node-config-dialog-ok');
  await page.locator('#node-config-input-key').waitFor({ state: 'detached' });
  expect(await page.inputValue('#node-input-connection')).not.toBe('_ADD_');
  await page.click('#node-dialog-ok');
  await page.locator('#email-task-tabs').waitFor({ state: 'detached' });

  // 5. Deploy and trigger the flow's http in endpoint.
  await deploy();
  await screenshot('deployed');
  const ok = await trigger({ to: 'ada@example.com', subject: 'Hello from the browser test', body: 'Hi' });
  expect(ok.status).toBe(200);
  expect(ok.data).toMatchObject({ status: 'sent', to: ['ada@example.com'], subject: 'Hello from the browser test' });
  expect(sandbox.mail(SANDBOX.senderEmail).map((m) => m.message.subject)).toEqual(['Hello from the browser test']);

  // 6. The green status and the result in the debug sidebar.
  await node(taskId).locator('.red-ui-flow-node-status-dot-green').waitFor();
  await shows(node(taskId).locator('.red-ui-flow-node-status-label'), 'sent: 1');
  await openSidebar('debug');
  const debugMessage = page.locator('.red-ui-debug-msg').filter({ hasText: 'result' });
  await debugMessage.first().waitFor();
  await shows(debugMessage, 'sent');
  await screenshot('sent-green-status-and-debug');

  // 7. A wrong secret: edit the connection from the task, deploy, trigger.
  await node(taskId).dblclick();
  await page.click('#email-task-tabs a[href="#email-task-tab-authorisation"]');
  await page.click('#node-input-btn-connection-edit');
  await page.locator('#node-config-input-clientSecret').waitFor();
  await page.fill('#node-config-input-clientSecret', WRONG_SECRET);
  await screenshot('connection-wrong-secret');
  await page.click('#node-config-dialog-ok');
  await page.locator('#node-config-input-key').waitFor({ state: 'detached' });
  await page.click('#node-dialog-ok');
  await page.locator('#email-task-tabs').waitFor({ state: 'detached' });
  await deploy();
  const bad = await trigger({ to: 'ada@example.com', subject: 'Should not be sent', body: 'x' });
  expect(bad.status).toBe(502);
  expect(bad.data).toMatchObject({ category: 'auth', code: 'AADSTS7000215' });
  await node(taskId).locator('.red-ui-flow-node-status-ring-red').waitFor();
  await screenshot('failed-red-status');

  // 8. The Usage Data sidebar names the failure, its node and the hint.
  await openSidebar('office365-mail-usage');
  const failure = page.locator('.o365-usage-failure[data-category="auth"]');
  await failure.first().waitFor();
  await shows(failure, 'AADSTS7000215');
  await shows(failure, "secret's ID instead of its Value");
  // Microsoft's own text is folded under Details.
  await failure.first().locator('details summary').click();
  await shows(failure.first().locator('.o365-usage-failure-details'), 'AADSTS7000215');
  expect(await failure.first().locator('a.o365-usage-reveal').getAttribute('data-node-id')).toBe(taskId);
  await shows(page.locator('.o365-usage-note'), 'survives deploys and restarts');
  // The mail sent before the wrong secret was deployed is still counted: history is kept by Key.
  const card = page.locator('.o365-usage-connection.o365-usage-failing');
  await shows(card.locator('.o365-usage-sent'), '1');
  await card.locator('svg.o365-usage-chart rect.o365-usage-bar-sent').first().waitFor({ state: 'attached' });
  await card.locator('.o365-usage-since').waitFor();
  await card.locator('button.o365-usage-clear').waitFor();
  await screenshot('usage-data-auth-failure');

  // The sidebar follows live: another failure arrives over RED.comms without a refresh, folded
  // with the first one ("×2 since …").
  await trigger({ to: 'ada@example.com', subject: 'Again', body: 'x' });
  await page.locator('.o365-usage-failure[data-category="auth"] .o365-usage-repeated[data-count="2"]').waitFor();
  await failure.first().locator('a.o365-usage-reveal').click();
  // Node-RED 4 flashes the revealed node, Node-RED 5 also selects it.
  await page.waitForFunction((id) => {
    const RED = (window as unknown as { RED: { nodes: { node: (i: string) => { highlighted?: boolean; selected?: boolean } | null } } }).RED;
    const n = RED.nodes.node(id);
    return Boolean(n && (n.highlighted || n.selected));
  }, taskId);
  await screenshot('usage-data-live-update-and-reveal');

  // Nothing secret reached the editor, the flows or the log.
  const flows = await axios.get(`${nodeRed.url}/flows`);
  const usage = await axios.get(`${nodeRed.url}/office365-mail/usage`);
  const html = await page.content();
  expectNoLeaks([flows.data, usage.data, html, nodeRed.log()], sandbox, [WRONG_SECRET]);

  // 9. Node-RED restarts: the editor reloads and Usage Data still shows the mail sent and the
  // folded failures (kept in the user directory by Key).
  await nodeRed.restart();
  await page.reload();
  await node(taskId).waitFor();
  await openSidebar('office365-mail-usage');
  const restarted = page.locator('.o365-usage-connection.o365-usage-failing');
  await restarted.locator('.o365-usage-failure[data-category="auth"] .o365-usage-repeated[data-count="2"]').waitFor();
  await shows(restarted.locator('.o365-usage-sent'), '1');
  // The failure links to its node once the editor has loaded the flows.
  await restarted.locator(`a.o365-usage-reveal[data-node-id="${taskId}"]`).first().waitFor();
  await screenshot('usage-data-after-restart');
}

test('Test connection explains a token without roles, a refused secret and missing fields; the key clash is named', async () => {
  await page.goto(nodeRed.url);
  await node('b0000000000000b1').waitFor();
  await newTaskDialog();
  await page.click('#node-input-btn-connection-add');
  await page.locator('#node-config-input-key').waitFor();
  const result = page.locator('#office365-mail-connection-test-result');

  // Certificate sign-in shows the certificate and key instead of the secret, and back.
  expect(await page.locator('#node-config-input-certificate').isVisible()).toBe(false);
  await page.selectOption('#node-config-input-authMethod', 'certificate');
  await page.locator('#node-config-input-certificatePrivateKey').waitFor();
  expect(await page.locator('#node-config-input-clientSecret').isVisible()).toBe(false);
  // An empty required credential is marked, whichever sign-in is chosen.
  await page.locator('#node-config-input-certificate.input-error').waitFor();
  await screenshot('connection-certificate');
  await connectionTab('network');
  await page.locator('#node-config-input-caBundle').waitFor();
  expect(await page.locator('#node-config-input-key').isVisible()).toBe(false);
  await screenshot('connection-network-tab');
  await connectionTab('limits');
  await page.locator('#node-config-input-maxRecipientsPerDay').waitFor();
  await screenshot('connection-limits-tab');
  await connectionTab('signin');
  await page.selectOption('#node-config-input-authMethod', 'secret');
  await page.locator('#node-config-input-clientSecret.input-error').waitFor();

  // Nothing filled in: the problems are listed, nothing is asked of Entra ID.
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-failed').waitFor();
  await shows(result, 'not complete');
  await screenshot('test-connection-incomplete');

  // The key of the connection the first test made: the clash is named under the field.
  await page.fill('#node-config-input-key', 'sandbox');
  await shows(page.locator('.office365-mail-connection-key-warning'), 'already uses the key');
  await page.fill('#node-config-input-key', 'no-consent');
  await page.locator('.office365-mail-connection-key-warning').waitFor({ state: 'hidden' });

  // An app without admin consent: a token, but no roles.
  await fillSignIn({ tenantId: SANDBOX.tenantDomain, applicationId: SANDBOX.noConsentApplicationId, clientSecret: SANDBOX.noConsentClientSecret });
  // Node-RED validates on change and keyup, which fill() does not send: Tab leaves the field.
  await page.press('#node-config-input-clientSecret', 'Tab');
  await page.locator('#node-config-input-clientSecret:not(.input-error)').waitFor();
  await fillSignIn({ senderEmail: SANDBOX.senderEmail, customCloud: sandbox.url });
  await connectionTab('signin');
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-ok').waitFor();
  await shows(result, 'Roles: none');
  await shows(result, 'admin consent is missing');
  await result.scrollIntoViewIfNeeded();
  await screenshot('test-connection-no-roles');

  // The secret's ID instead of its Value: Entra's refusal, classified, with the hint.
  await page.fill('#node-config-input-applicationId', SANDBOX.applicationId);
  await page.fill('#node-config-input-clientSecret', SANDBOX.clientSecretId);
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-failed').waitFor();
  // The plain hint leads; Microsoft's own text waits, folded, under Details.
  await shows(result.locator('.office365-mail-line').first(), "secret's ID instead of its Value");
  const details = result.locator('details.office365-mail-details');
  expect(await details.locator('.office365-mail-details-text').isVisible()).toBe(false);
  await details.locator('summary').click();
  await shows(details.locator('.office365-mail-details-text'), 'AADSTS7000215');
  await result.scrollIntoViewIfNeeded();
  await screenshot('test-connection-wrong-secret');

  // A result belongs to the values it tested: an edit, on any tab, clears it.
  await page.fill('#node-config-input-name', 'edited');
  await result.waitFor({ state: 'hidden' });
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-failed').waitFor();
  await connectionTab('limits');
  await page.fill('#node-config-input-queueSize', '999');
  await connectionTab('signin');
  await result.waitFor({ state: 'hidden' });

  // Send a test mail to…: the mail goes out through the email task's path; Graph's answer shows.
  await page.fill('#node-config-input-clientSecret', SANDBOX.clientSecret);
  await page.fill('#office365-mail-connection-sendTo', 'grace@example.com');
  const mailsBefore = sandbox.mail(SANDBOX.senderEmail).length;
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-ok').waitFor();
  await shows(result, 'Test mail sent to grace@example.com');
  expect(sandbox.mail(SANDBOX.senderEmail).length).toBe(mailsBefore + 1);
  await result.scrollIntoViewIfNeeded();
  await screenshot('test-connection-test-mail');
  await page.fill('#office365-mail-connection-sendTo', '');

  // Certificate sign-in, unsaved: the sandbox verifies the signed assertion; the thumbprint shows.
  await page.selectOption('#node-config-input-authMethod', 'certificate');
  await page.fill('#node-config-input-applicationId', SANDBOX.certificateApplicationId);
  await page.fill('#node-config-input-certificate', sandbox.clientCertificate.certPem);
  await page.fill('#node-config-input-certificatePrivateKey', sandbox.clientCertificate.keyPem);
  await page.locator('#node-config-input-certificatePassphrase').waitFor();
  await page.click('#office365-mail-connection-test');
  await page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-ok').waitFor();
  await shows(result, sandbox.clientCertificate.thumbprintSha256);
  await result.scrollIntoViewIfNeeded();
  await screenshot('test-connection-certificate');

  // Max recipients up to 1,000; the Exchange guards are empty (off) or whole numbers from 1.
  const flagged = async (field: string, value: string): Promise<boolean> => {
    const input = page.locator(`#node-config-input-${field}`);
    await input.fill(value);
    await input.press('Tab');
    return input.evaluate((el) => el.classList.contains('input-error'));
  };
  await connectionTab('limits');
  expect(await flagged('maxRecipients', '1000')).toBe(false);
  expect(await flagged('maxRecipients', '1001')).toBe(true);
  for (const field of ['maxMailsPerMinute', 'maxRecipientsPerDay']) {
    expect(await flagged(field, '0')).toBe(true);
    expect(await flagged(field, 'lots')).toBe(true);
    expect(await flagged(field, '30')).toBe(false);
    expect(await flagged(field, '')).toBe(false);
  }
  // The dialog takes what the runtime takes (the whole table: test/support/validation-cases.ts).
  await connectionTab('mailbox');
  expect(await flagged('senderEmail', 'alerts@contoso')).toBe(false);
  expect(await flagged('senderEmail', 'Alerts <alerts@contoso.com>')).toBe(true);
  await connectionTab('limits');
  expect(await flagged('allowedRecipientDomains', 'example.com; @nhs.net')).toBe(false);
  expect(await flagged('allowedRecipientDomains', '<b>example.com</b>')).toBe(true);
  // The rows take their width from resources/editor.css.
  await connectionTab('signin');
  expect(await page.locator('label[for="node-config-input-key"]').evaluate((el) => getComputedStyle(el).width)).toBe('150px');
  await page.click('#node-config-dialog-cancel');

  // The email task's fixed recipients: a quoted display name with a comma is one address.
  await page.click('#email-task-tabs a[href="#email-task-tab-message"]');
  await page.evaluate(() => (window as unknown as { $: (s: string) => { typedInput: (m: string, v: string) => void } }).$('#node-input-to').typedInput('type', 'str'));
  const toFlagged = async (value: string): Promise<boolean> => {
    await fillTyped('to', value);
    return page.locator('#node-input-to').evaluate((el) => el.classList.contains('input-error'));
  };
  expect(await toFlagged('nobody')).toBe(true);
  // The message is on the typedInput itself, on hover (Node-RED hangs it on the hidden input).
  await page.hover('#node-input-to + .red-ui-typedInput-container');
  await shows(page.locator('.red-ui-popover'), 'Not an email address');
  expect(await toFlagged('"Bob, Jr." <bob@example.com>; ada@example.com')).toBe(false);
  await page.click('#node-dialog-cancel');
});

test('the email in dialog: connection picker, permitted mailboxes, folder, after-read and help', async () => {
  await page.goto(nodeRed.url);
  await node('b0000000000000b1').waitFor();
  try {
    // 1. From the palette onto the workspace, then open it.
    const paletteNode = page.locator('.red-ui-palette-node[data-palette-type="office365-mail-in"]');
    await paletteNode.scrollIntoViewIfNeeded();
    const httpIn = await centre(node('b0000000000000b1'));
    await drag(paletteNode, { x: httpIn.x, y: httpIn.y + 320 });
    const id = await page
      .waitForFunction(() => {
        const RED = (window as unknown as { RED: { nodes: { filterNodes: (f: { type: string }) => Array<{ id: string }> } } }).RED;
        return RED.nodes.filterNodes({ type: 'office365-mail-in' })[0]?.id;
      })
      .then((h) => h.jsonValue() as Promise<string>);
    await node(id).dblclick();
    await page.locator('#node-input-mailbox').waitFor();

    // 2. The connection picker: a new connection with a second permitted mailbox.
    await page.click('#node-input-btn-connection-add');
    await page.locator('#node-config-input-key').waitFor();
    await fillSignIn({
      key: 'mail-in', name: 'Reading', tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecret,
      senderEmail: SANDBOX.senderEmail, allowedMailboxes: `${REPORTS}; `, customCloud: sandbox.url,
    });
    await page.click('#node-config-dialog-ok');
    await page.locator('#node-config-input-key').waitFor({ state: 'detached' });
    const connectionId = await page.inputValue('#node-input-connection');
    expect(connectionId).not.toBe('_ADD_');
    expect(await page.locator('#node-input-connection option:checked').textContent()).toContain('Reading');

    // 3. The mailbox picker offers what the connection permits; any other mailbox is marked.
    const offered = (): Promise<string[]> => page.locator('#office365-mail-in-mailboxes option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    await page.waitForFunction(() => document.querySelectorAll('#office365-mail-in-mailboxes option').length === 2);
    expect(await offered()).toEqual([SANDBOX.senderEmail.toLowerCase(), REPORTS]);
    const flagged = async (field: string, value: string): Promise<boolean> => {
      const input = page.locator(`#node-input-${field}`);
      await input.fill(value);
      await input.press('Tab');
      return input.evaluate((el) => el.classList.contains('input-error'));
    };
    expect(await flagged('mailbox', 'ceo@contoso.com')).toBe(true);
    await screenshot('email-in-mailbox-not-permitted');
    expect(await flagged('mailbox', 'not an address')).toBe(true);
    expect(await flagged('mailbox', REPORTS.toUpperCase())).toBe(false);
    expect(await flagged('mailbox', '')).toBe(false);
    expect(await flagged('mailbox', REPORTS)).toBe(false);

    // 4. The folder: required, a name or a path.
    expect(await page.inputValue('#node-input-folder')).toBe('Inbox');
    expect(await flagged('folder', '')).toBe(true);
    expect(await flagged('folder', 'Inbox/Orders')).toBe(false);
    expect(await flagged('folder', 'Inbox')).toBe(false);

    // 5. After reading: the move-to field shows for "move" only, and is then required.
    const moveRow = page.locator('.office365-mail-in-moveTo-row');
    expect(await page.inputValue('#node-input-afterRead')).toBe('markRead');
    expect(await moveRow.isVisible()).toBe(false);
    await page.selectOption('#node-input-afterRead', 'move');
    await moveRow.waitFor({ state: 'visible' });
    expect(await flagged('moveTo', '')).toBe(true);
    expect(await flagged('moveTo', 'Inbox/Done')).toBe(false);
    await screenshot('email-in-dialog-move');
    for (const other of ['delete', 'none', 'markRead']) {
      await page.selectOption('#node-input-afterRead', other);
      await moveRow.waitFor({ state: 'hidden' });
    }

    // 6. Done and deployed: the node watches the permitted mailbox.
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-mailbox').waitFor({ state: 'detached' });
    expect(await page.evaluate((nodeId) => {
      const RED = (window as unknown as { RED: { nodes: { node: (i: string) => Record<string, unknown> } } }).RED;
      const n = RED.nodes.node(nodeId);
      return { mailbox: n.mailbox, folder: n.folder, afterRead: n.afterRead, connection: n.connection, valid: n.valid };
    }, id)).toEqual({ mailbox: REPORTS, folder: 'Inbox', afterRead: 'markRead', connection: connectionId, valid: true });
    await deploy();
    await node(id).locator('.red-ui-flow-node-status-dot-green').waitFor();
    await shows(node(id).locator('.red-ui-flow-node-status-label'), 'watching Inbox');

    // 7. The help, in Node-RED's style.
    await openSidebar('help');
    await page.evaluate(() => (window as unknown as { RED: { sidebar: { help: { show: (t: string) => void } } } }).RED.sidebar.help.show('office365-mail-in'));
    const help = page.locator('.red-ui-help');
    await shows(help, 'Sends one message for each new mail');
    await help.locator('dl.message-properties').first().waitFor();
    await shows(help.locator('dl.message-properties').first(), 'topic');
    await screenshot('email-in-help');
    expectNoLeaks([await page.content(), nodeRed.log()], sandbox);
  } catch (err) {
    await screenshot('email-in-failure');
    throw err;
  }
});

test.each([
  ['de-DE', 'Verbindung testen', 'Autorisierung', 'bei Bereitstellungen und Neustarts erhalten', 'Postfach & Cloud', 'Wurde die ID des Geheimnisses statt seines Werts eingefügt?', 'Entra ID hat die Anmeldung abgelehnt', 'Details', 'Anmeldung fehlgeschlagen'],
  ['ja-JP', '接続をテスト', '認可', 'デプロイや再起動の後も残ります', 'メールボックスとクラウド', 'シークレットの値ではなく ID を貼り付けていませんか', 'Entra ID がサインインを拒否しました', '詳細', '認証に失敗'],
])('the editor speaks %s: dialogs, statuses, a Test connection failure and the Usage Data sidebar', async (locale, testButton, authTab, usageNote, mailboxTab, hint, message, detailsLabel, authStatus) => {
  const context = await browser.newContext({ locale, viewport: { width: 1600, height: 1000 } });
  const previous = page;
  page = await context.newPage();
  try {
    await page.goto(nodeRed.url);
    await node('b0000000000000b1').waitFor();
    // The first test left a task on a wrong secret: a failure now sets its status, a key this editor renders.
    expect((await trigger({ to: 'ada@example.com', subject: `status in ${locale}`, body: 'x' })).status).toBe(502);
    await shows(page.locator('.red-ui-flow-node-status-label'), authStatus);
    await openSidebar('office365-mail-usage');
    await shows(page.locator('.o365-usage-note'), usageNote);
    await newTaskDialog();
    await shows(page.locator('#email-task-tabs'), authTab);
    await page.click('#node-input-btn-connection-add');
    await shows(page.locator('#office365-mail-connection-test'), testButton);
    await shows(page.locator('#office365-mail-connection-tabs'), mailboxTab);
    await screenshot(`editor-${locale}`);
    // Every label of every tab fits on its line, uncut ("Anwendungs-ID", "Weitere Postfächer").
    for (const tab of ['signin', 'mailbox', 'network', 'limits'] as const) {
      await connectionTab(tab);
      const cut = await page.$$eval('.office365-mail-form .form-row > label:not(.office365-mail-label-wide)', (labels) =>
        labels.filter((l) => (l as HTMLElement).offsetParent !== null && l.scrollWidth > l.clientWidth).map((l) => l.textContent));
      expect(cut).toEqual([]);
    }
    await connectionTab('signin');

    // A refused secret in the editor's language, though the runtime speaks English.
    await fillSignIn({
      key: `i18n-${locale}`, tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, clientSecret: SANDBOX.clientSecretId,
      senderEmail: SANDBOX.senderEmail, customCloud: sandbox.url,
    });
    await connectionTab('signin');
    await page.click('#office365-mail-connection-test');
    const result = page.locator('#office365-mail-connection-test-result.office365-mail-connection-test-failed');
    await result.waitFor();
    await shows(result.locator('.office365-mail-line').first(), hint);
    await shows(result, message);
    await shows(result.locator('details summary'), detailsLabel);
    await result.scrollIntoViewIfNeeded();
    await screenshot(`editor-${locale}-test-failure`);
    await page.click('#node-config-dialog-cancel');
    await page.locator('#node-config-input-key').waitFor({ state: 'detached' });
    // The email task's labels fit too ("Attachments", "Anhänge", "添付ファイル").
    await page.click('#email-task-tabs a[href="#email-task-tab-message"]');
    await page.locator('#node-input-attachments').waitFor({ state: 'attached' });
    const cutTask = await page.$$eval('#email-task-tab-message .form-row > label', (labels) => labels.filter((l) => l.scrollWidth > l.clientWidth).map((l) => l.textContent));
    expect(cutTask).toEqual([]);
  } catch (err) {
    await screenshot(`editor-${locale}-failure`);
    throw err;
  } finally {
    await context.close();
    page = previous;
  }
});
