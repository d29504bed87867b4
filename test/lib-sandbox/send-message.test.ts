/**
 * sendMessage, the email task's one entry point into lib, on its own (no Node-RED) against the
 * sandbox: a sent mail and every kind of refusal are counted once, in the connection's usage data.
 */
import { startSandbox, type Sandbox } from '../../sandbox';
import { SANDBOX } from '../../sandbox/config';
import { ConnectionRuntime } from '../../nodes/lib/connection';
import { validationError } from '../../nodes/lib/errors';
import { msgFields, sendMessage, type MessageTask } from '../../nodes/lib/send-message';
import { readConnectionSettings, readTaskSettings } from '../../nodes/lib/settings';
import { MSG_FIELDS } from '../../nodes/lib/types';

let sandbox: Sandbox;
let runtime: ConnectionRuntime;
const node = { id: 'e1', type: 'email-task', name: 'mail' };

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  const config = { key: 'k', tenantId: SANDBOX.tenantId, applicationId: SANDBOX.applicationId, senderEmail: SANDBOX.senderEmail, cloud: 'custom', loginUrl: sandbox.url, graphUrl: sandbox.url, allowedRecipientDomains: 'example.com' };
  const { settings } = readConnectionSettings(config, { clientSecret: SANDBOX.clientSecret }, () => undefined);
  runtime = new ConnectionRuntime(settings!);
});
afterAll(async () => {
  await runtime.close();
  await sandbox.close();
});

it('sends, and counts each refusal (compose, evaluation) once in the usage data; without a connection nothing is counted', async () => {
  const task: MessageTask = { settings: readTaskSettings({}), node };
  const sent = await sendMessage(runtime, async () => ({ to: 'ada@example.com', subject: 's', body: 'b' }), task);
  expect(sent).toMatchObject({ status: 'sent', to: ['ada@example.com'], path: 'sendMail' });

  await expect(sendMessage(runtime, async () => ({ to: 'eve@elsewhere.test' }), task)).rejects.toMatchObject({ code: 'RecipientDomainNotAllowed' });
  const evaluation = validationError('PropertyEvaluation', 'propertyEvaluation', { field: 'to' });
  await expect(sendMessage(runtime, () => Promise.reject(evaluation), task)).rejects.toBe(evaluation);
  await expect(sendMessage(undefined, async () => ({ to: 'ada@example.com' }), task)).rejects.toMatchObject({ code: 'InvalidConnection' });

  const usage = runtime.mailer.snapshot();
  expect(usage).toMatchObject({ sent: 1, failed: 2, failedByCategory: { validation: 2 } });
  expect(usage.recentFailures.map((f) => [f.code, f.node])).toEqual([['PropertyEvaluation', node], ['RecipientDomainNotAllowed', node]]);
  expect(sandbox.mail()).toHaveLength(1);
});

it('a refused value set in the node is named, not quoted', async () => {
  const task: MessageTask = { settings: readTaskSettings({ to: 'eve@elsewhere.test', toType: 'str' }), node };
  const error = await sendMessage(runtime, async () => ({ to: 'eve@elsewhere.test' }), task).catch((err: unknown) => err);
  expect(error).toMatchObject({ code: 'RecipientDomainNotAllowed', messageKey: 'configuredValueInvalid', params: { field: 'to', value: '' } });
});

it('reads exactly the msg fields of MSG_FIELDS, as they are', () => {
  const msg = { payload: 'p', topic: 't', other: 1, ...Object.fromEntries(MSG_FIELDS.map((f) => [f, `${f}!`])) };
  expect(msgFields(msg)).toEqual(Object.fromEntries(MSG_FIELDS.map((f) => [f, `${f}!`])));
});
