/**
 * The email task's one entry point into lib: one message's input in, the SendResult or a MailError
 * out. Composing, counting a refused mail in the connection's usage data and sending happen here
 * together, so the glue only evaluates its typedInputs and reports.
 */
import type { ConnectionRuntime } from './connection';
import { composeMail, type ComposeRules } from './compose';
import { MailError, amend } from './errors';
import type { SendJob } from './mailer';
import { MSG_FIELDS, type MailInput, type SendResult, type TaskSettings } from './types';

/** A task as the mailer sees it: its settings, the node, and how it is told to stop and about waits. */
export type MessageTask = Pick<SendJob, 'node' | 'stopping' | 'aborting' | 'onWait' | 'onResume'> & { settings: TaskSettings };

/** The message properties read as they are (MSG_FIELDS), for the rest of MailInput to be added. */
export function msgFields(msg: Readonly<Record<string, unknown>>): MailInput {
  const input: MailInput = {};
  for (const field of MSG_FIELDS) input[field] = msg[field];
  return input;
}

/**
 * Sends one message. `input` evaluates the message's values; it runs inside, so a value that cannot
 * be evaluated is counted as a refused mail like one compose refuses. `runtime` is absent when the
 * task has no valid connection.
 */
export async function sendMessage(runtime: ConnectionRuntime | undefined, input: () => Promise<MailInput>, task: MessageTask): Promise<SendResult> {
  if (!runtime) {
    throw new MailError({ category: 'validation', code: 'InvalidConnection', messageKey: 'connectionInvalid', hintKey: 'connectionInvalid' });
  }
  const { settings, ...job } = task;
  let mail;
  try {
    mail = composeMail(await input(), rulesFor(runtime, settings));
  } catch (err) {
    const refused = err instanceof MailError ? unquoted(err, settings) : err;
    // Refused before the mailer saw it: still counted in the connection's usage data.
    if (refused instanceof MailError) runtime.mailer.recordRejected(task.node, refused);
    throw refused;
  }
  return runtime.mailer.send({
    ...job,
    mail,
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
  };
}

/** The refusal without the value it quotes, when that value came from the node or the environment. */
function unquoted(error: MailError, settings: TaskSettings): MailError {
  const field = error.params.field;
  if (typeof field !== 'string' || !settings.configuredFields.has(field) || !('value' in error.params)) return error;
  return amend(error, { messageKey: 'configuredValueInvalid', params: { value: '' } });
}
