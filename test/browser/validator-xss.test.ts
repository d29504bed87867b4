/**
 * Issue 11, finding 3: Node-RED 4.1's configuration-nodes sidebar renders validation messages as
 * HTML. Connections imported with markup in their allowed domains and in the name of a connection
 * whose key clashes must not run script in the editor of whoever hovers the warning. The package
 * is linked into a fresh user dir (as `npm start` does); nothing waits on time.
 */
import type { Page } from 'playwright-core';
import { openEditor, type OpenEditor } from './node-red';

jest.setTimeout(120_000);

let editor: OpenEditor;
let url: string;
let page: Page;

/** Each payload sets its own flag when its script runs. */
const payload = (flag: string): string => `<img src=x onerror="window.${flag}=true">`;
const FLAGS = ['xssDomain', 'xssName', 'xssOtherName'];

beforeAll(async () => {
  editor = await openEditor({ install: 'linked' });
  ({ page } = editor);
  url = editor.nodeRed.url;
});

afterAll(() => editor?.close());

test('validator messages in the config-nodes sidebar run no script from imported connections', async () => {
  await page.goto(url);
  await page.locator('#red-ui-workspace-chart').waitFor();
  await page.waitForFunction(() => Boolean((window as unknown as { RED?: { nodes?: { getType?: (t: string) => unknown } } }).RED?.nodes?.getType?.('office365-mail-connection')));
  const base = { type: 'office365-mail-connection', tenantId: 'contoso.onmicrosoft.com', applicationId: '0b7e5a3c-2d91-4f6e-8a4b-1c9d7e2f6a30', senderEmail: 'alerts@contoso.com', cloud: 'global' };
  const imported = [
    { ...base, id: 'aaaaaaaaaaaaaaa1', key: 'clash', name: payload('xssName'), allowedRecipientDomains: payload('xssDomain') },
    { ...base, id: 'aaaaaaaaaaaaaaa2', key: 'clash', name: payload('xssOtherName') },
  ];
  await page.evaluate((nodes) => (window as unknown as { RED: { view: { importNodes: (n: unknown[]) => void } } }).RED.view.importNodes(nodes), imported);
  await page.evaluate(() => (window as unknown as { RED: { sidebar: { show: (t: string) => void } } }).RED.sidebar.show('config'));

  const warnings = page.locator('.red-ui-palette-node-config-invalid svg.red-ui-flow-node-error');
  await warnings.nth(1).waitFor();
  expect(await warnings.count()).toBe(2);
  for (let i = 0; i < 2; i++) {
    await warnings.nth(i).hover();
    // The tooltip lists the invalid properties; it is in the page once it shows.
    const tooltip = page.locator('.red-ui-popover').filter({ hasText: /- / }).last();
    await tooltip.waitFor();
    expect(await tooltip.locator('img').count()).toBe(0);
    expect(await tooltip.innerHTML()).not.toContain('onerror');
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'detached' });
  }

  // The dialog names the clashing connection, as text.
  await page.evaluate(() => (window as unknown as { RED: { editor: { editConfig: (a: string, t: string, id: string) => void } } }).RED.editor.editConfig('', 'office365-mail-connection', 'aaaaaaaaaaaaaaa1'));
  const warning = page.locator('.office365-mail-connection-key-warning-text');
  await warning.filter({ hasText: 'xssOtherName' }).waitFor();
  expect(await warning.locator('img').count()).toBe(0);

  expect(await page.evaluate((flags) => flags.filter((f) => (window as unknown as Record<string, unknown>)[f] !== undefined), FLAGS)).toEqual([]);
});
