/**
 * The email task's one entry point into lib: one message's input in, the SendResult or a MailError
 * out. Composing, counting a refused mail in the connection's usage data and sending happen here
 * together, so the glue only evaluates its typedInputs and reports.
 */
import type { ConnectionRuntime } from './connection';
import { composeMail, type ComposeRules } from './compose';
import { MailError, amend, validationError } from './errors';
import type { SendJob } from './mailer';
import { shorten } from './recipients';
import { routeOf, type MailRoute } from './route';
import { isConnectionKey } from './settings';
import { MSG_FIELDS, type ComposedMail, type MailInput, type SendResult, type TaskSettings } from './types';

/** A task as the mailer sees it: its settings, the node, and how it is told to stop and about waits. */
export type MessageTask = Pick<SendJob, 'node' | 'stopping' | 'aborting' | 'onWait' | 'onResume'> & { settings: TaskSettings };

/** The message properties read as they are (MSG_FIELDS), for the rest of MailInput to be added. */
export function msgFields(msg: Readonly<Record<string, unknown>>): MailInput {
  const input: MailInput = {};
  for (const field of MSG_FIELDS) input[field] = msg[field];
  return input;
}

/** A deployed connection found by its Key, or why none can be used. */
export type KeyedConnection = { runtime: ConnectionRuntime } | { problem: 'unknown' | 'duplicate' | 'invalid' };

/**
 * The connection of a message: the task's own (undefined when the task has no valid connection),
 * or the deployed connection whose Key the message names (`byKey`, authType `connectionKey`; the
 * glue owns the lookup).
 */
export type ConnectionChoice = ConnectionRuntime | undefined | { byKey: (key: string) => KeyedConnection };

/**
 * Sends one message. `input` evaluates the message's values; it runs inside, so a value that cannot
 * be evaluated is counted as a refused mail like one compose refuses (in the usage data of the
 * connection, once it is known).
 */
export async function sendMessage(connection: ConnectionChoice, input: () => Promise<MailInput>, task: MessageTask): Promise<SendResult> {
  const byKey = connection !== undefined && 'byKey' in connection ? connection.byKey : undefined;
  let runtime = byKey ? undefined : (connection as ConnectionRuntime | undefined);
  if (!byKey && !runtime) {
    throw new MailError({ category: 'validation', code: 'InvalidConnection', messageKey: 'connectionInvalid', hintKey: 'connectionInvalid' });
  }
  const { settings, ...job } = task;
  let mail: ComposedMail;
  let route: MailRoute;
  try {
    const values = await input();
    runtime ??= connectionByKey(byKey as (key: string) => KeyedConnection, values.connectionKey);
    // The sender first: a mailbox the connection does not list is the refusal that matters most.
    route = routeOf(runtime.settings, settings.action, values);
    mail = composeMail(values, rulesFor(runtime, settings));
  } catch (err) {
    const refused = err instanceof MailError ? unquoted(err, settings) : err;
    // Refused before the mailer saw it: still counted in the connection's usage data.
    if (refused instanceof MailError) runtime?.mailer.recordRejected(task.node, refused);
    throw refused;
  }
  return runtime.mailer.send({
    ...job,
    mail,
    route,
    returnMessageIds: settings.returnMessageIds,
    allowedRecipientDomains: runtime.settings.allowedRecipientDomains,
    saveToSentItems: settings.saveToSentItems,
    timeoutMs: settings.timeoutMs,
    retry: { maxAttempts: settings.maxAttempts, maxWaitMs: settings.maxWaitMs, retryUnknownOutcome: settings.retryUnknownOutcome },
  });
}

function rulesFor(runtime: ConnectionRuntime, settings: TaskSettings): ComposeRules {
  return {
    bodyFormat: settings.bodyFormat,
    importance: settings.importance,
    allowedRecipientDomains: runtime.settings.allowedRecipientDomains,
    maxRecipients: runtime.settings.maxRecipients,
    action: settings.action,
  };
}

/** The connection a message names by its Key; any other outcome is a refusal naming the key. */
function connectionByKey(byKey: (key: string) => KeyedConnection, raw: unknown): ConnectionRuntime {
  const key = typeof raw === 'string' ? raw.trim() : '';
  if (!isConnectionKey(key)) {
    const value = typeof raw === 'string' ? shorten(raw) : raw === undefined || raw === null ? '' : typeof raw;
    throw validationError('InvalidConnectionKey', 'invalidConnectionKey', { field: 'connectionKey', value }, 'connectionKey');
  }
  const found = byKey(key);
  if ('runtime' in found) return found.runtime;
  if (found.problem === 'unknown') throw validationError('UnknownConnectionKey', 'unknownConnectionKey', { field: 'connectionKey', value: key }, 'connectionKey');
  if (found.problem === 'duplicate') throw validationError('DuplicateConnectionKey', 'duplicateConnectionKey', { field: 'connectionKey', value: key }, 'duplicateConnectionKey');
  throw validationError('InvalidConnection', 'keyedConnectionInvalid', { field: 'connectionKey', value: key }, 'connectionInvalid');
}

/** The refusal without the value it quotes, when that value came from the node or the environment. */
function unquoted(error: MailError, settings: TaskSettings): MailError {
  const field = error.params.field;
  if (typeof field !== 'string' || !settings.configuredFields.has(field) || !('value' in error.params)) return error;
  return amend(error, { messageKey: 'configuredValueInvalid', params: { value: '' } });
}
