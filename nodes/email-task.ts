/**
 * Worker node `email-task`: per message it evaluates its typedInputs, composes the mail and hands
 * it to its connection's Mailer; it reports by output 1 (sent) or output 2 (failed), status and done().
 */
import { setMaxListeners } from 'node:events';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { composeMail, looksLikeHtml, type ComposeRules } from './lib/compose';
import { MailError, amend, internalError, validationError } from './lib/errors';
import { readTaskSettings, type RawTaskConfig } from './lib/settings';
import { renderTemplate, type ContextLookup } from './lib/template';
import type { SendJob, WaitInfo } from './lib/mailer';
import { credentialExpiry } from './lib/expiry';
import type { ComposedMail, MailInput, NodeRef, SendResult } from './lib/types';
import { categoryText, closeGraceMs, problemText, statusText, toMsgError, type ConnectionNode } from './shared';

/** typedInput properties of the Message tab. */
const TYPED_PROPS = ['to', 'cc', 'bcc', 'replyTo', 'subject', 'body', 'attachments'] as const;
type TypedProp = (typeof TYPED_PROPS)[number];
/** The Message tab's documented defaults (docs/configuration.md), for flows (hand-written or older) that leave a property out. */
const DEFAULT_MSG_PROPERTY: Readonly<Record<TypedProp, string>> = {
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  replyTo: 'replyTo',
  subject: 'topic',
  body: 'payload',
  attachments: 'attachments',
};
/** Only these are Mustache templates when typed `str`; attachments are not text. */
const TEMPLATED = new Set<TypedProp>(['to', 'cc', 'bcc', 'replyTo', 'subject', 'body']);

type EmailTaskDef = NodeDef &
  RawTaskConfig & {
    authType?: string;
    connection?: string;
  } & { [K in TypedProp]?: string } & { [K in `${TypedProp}Type`]?: string };

type Evaluator = (msg: NodeMessage) => Promise<unknown>;

export = function register(RED: NodeAPI): void {
  function EmailTaskConstructor(this: Node, config: EmailTaskDef): void {
    RED.nodes.createNode(this, config);
    // Node-RED calls the constructor with the node as `this`; the handlers below close over it.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const ref: NodeRef = { id: node.id, type: node.type, name: node.name ?? '' };
    const task = readTaskSettings(config);
    const connection = config.authType === undefined || config.authType === 'connection'
      ? (RED.nodes.getNode(config.connection ?? '') as ConnectionNode | null)
      : null;
    const runtime = connection?.runtime;
    // A fixed body (a `str` template) with `auto` is HTML or text by the template alone, decided
    // here once: message data rendered into a plain template must not turn the mail into HTML.
    const bodyTemplate = config.bodyType === 'str' && typeof config.body === 'string' ? config.body : undefined;
    const bodyFormat = task.bodyFormat === 'auto' && bodyTemplate !== undefined ? (looksLikeHtml(bodyTemplate) ? 'html' : 'text') : task.bodyFormat;
    const rules: ComposeRules | undefined = runtime && {
      bodyFormat,
      importance: task.importance,
      allowedRecipientDomains: runtime.settings.allowedRecipientDomains,
      maxRecipients: runtime.settings.maxRecipients,
    };

    // Values set in the node (`str`, which Node-RED fills from `${NAME}`) or read from the
    // environment may be secrets: an error about them names the field, never quotes the value.
    const unquotable = new Set<string>(TYPED_PROPS.filter((prop) => config[prop] !== undefined && ['str', 'env'].includes(config[`${prop}Type`] ?? '')));

    const lookup: ContextLookup = (scope, key) =>
      scope === 'env' ? RED.util.evaluateNodeProperty(key, 'env', node, {}) : node.context()[scope].get(key);

    // Parsed once here; per message only evaluated.
    const evaluators = new Map<TypedProp, Evaluator>();
    for (const prop of TYPED_PROPS) {
      const value = config[prop];
      evaluators.set(prop, value === undefined ? evaluatorFor(prop, DEFAULT_MSG_PROPERTY[prop], 'msg') : evaluatorFor(prop, value, config[`${prop}Type`] || 'msg'));
    }

    let sentCount = 0;
    let sending = 0;
    /** Mails waiting on a retry or a throttled mailbox, and the latest wait to show. */
    let waiting = 0;
    let lastWait: WaitInfo | undefined;
    const pending = new Set<Promise<void>>();
    // close: `stopping` fails queued and waiting mail at once; `aborting` ends requests still in
    // flight when the grace period is over, before Node-RED's own close timeout gives up on us.
    const stopping = new AbortController();
    const aborting = new AbortController();
    // Every queued or in-flight mail listens on these: a thousand listeners is the design, not a leak.
    setMaxListeners(0, stopping.signal, aborting.signal);
    // Everything of a send job but the mail is the node's own: built once, not per message.
    const jobSettings: Omit<SendJob, 'mail'> = {
      saveToSentItems: task.saveToSentItems,
      timeoutMs: task.timeoutMs,
      node: ref,
      retry: { maxAttempts: task.maxAttempts, maxWaitMs: task.maxWaitMs, retryUnknownOutcome: task.retryUnknownOutcome },
      signal: stopping.signal,
      abort: aborting.signal,
      onWait: (wait) => {
        waiting++;
        lastWait = wait;
        showStatus();
      },
      onResume: () => {
        waiting--;
        showStatus();
      },
    };

    if (runtime && credentialExpiry(runtime.settings)?.warn) showStatus();
    // A task may sit idle for days: its status follows the countdown (and enters the 30 days) hourly.
    const expiryTimer = runtime && credentialExpiry(runtime.settings) ? setInterval(() => sending === 0 && waiting === 0 && credentialExpiry(runtime.settings)?.warn && showStatus(), 3_600_000) : undefined;
    expiryTimer?.unref();
    if (!runtime) {
      node.status({ fill: 'red', shape: 'ring', text: statusText(RED._, connection ? 'connectionInvalid' : 'noConnection') });
      if (connection) for (const problem of connection.problems) node.warn(problemText(RED._, problem));
    }

    function evaluatorFor(prop: TypedProp, value: string, type: string): Evaluator {
      // An emptied msg field means the property is not used.
      if (type === 'msg') return value === '' ? async () => undefined : async (msg) => RED.util.getMessageProperty(msg, value);
      if (type === 'str') {
        if (!TEMPLATED.has(prop)) return async () => value;
        // A body template is HTML-escaped only when the mail will be HTML.
        const escapeHtml = prop === 'body' && bodyFormat === 'html';
        return async (msg) => renderTemplate(value, msg, lookup, escapeHtml);
      }
      if (type === 'jsonata') {
        const expression = RED.util.prepareJSONataExpression(value, node);
        return (msg) =>
          new Promise((resolve, reject) =>
            RED.util.evaluateJSONataExpression(expression, msg, (err, result) => (err ? reject(err) : resolve(result))),
          );
      }
      return (msg) =>
        new Promise((resolve, reject) =>
          RED.util.evaluateNodeProperty(value, type, node, msg, (err, result) => (err ? reject(err) : resolve(result))),
        );
    }

    async function readInput(msg: NodeMessage & Record<string, unknown>): Promise<MailInput> {
      const input: MailInput = {
        filename: msg.filename,
        importance: msg.importance,
        priority: msg.priority,
        headers: msg.headers,
        requestReadReceipt: msg.requestReadReceipt,
        requestDeliveryReceipt: msg.requestDeliveryReceipt,
        categories: msg.categories,
        title: msg.title,
        description: msg.description,
      };
      for (const [prop, evaluate] of evaluators) {
        try {
          input[prop] = await evaluate(msg);
        } catch {
          // The evaluation error text may quote the expression; the field name is what helps.
          throw validationError('PropertyEvaluation', 'propertyEvaluation', { field: prop }, 'fixInput');
        }
      }
      return input;
    }

    // "sending (n)" texts by n, translated once: a burst repeats the same few, and i18next's
    // plural handling per status cost more than the rest of the node's work (bench/ profile).
    const sendingTexts = new Map<number, string>();

    function showStatus(): void {
      if (waiting > 0 && lastWait) {
        const seconds = Math.max(1, Math.ceil(lastWait.ms / 1000));
        const text = lastWait.category === 'throttled'
          ? statusText(RED._, 'throttled', { seconds })
          : statusText(RED._, 'retrying', { seconds, code: lastWait.code });
        node.status({ fill: 'yellow', shape: 'ring', text });
      } else if (sending > 0) {
        let text = sendingTexts.get(sending);
        if (text === undefined) {
          text = statusText(RED._, 'sending', { count: sending });
          sendingTexts.set(sending, text);
        }
        node.status({ fill: 'blue', shape: 'dot', text });
      } else {
        // Idle: a secret (or certificate) about to expire is what the user must hear about.
        const expiry = runtime ? credentialExpiry(runtime.settings) : undefined;
        if (expiry?.warn) node.status({ fill: 'yellow', shape: 'ring', text: expiryStatus(expiry.days) });
        else node.status({ fill: 'green', shape: 'dot', text: statusText(RED._, 'sent', { count: sentCount }) });
      }
    }

    function expiryStatus(days: number): string {
      if (days <= 0) return statusText(RED._, 'secretExpired');
      return days === 1 ? statusText(RED._, 'secretExpiresWithinDay') : statusText(RED._, 'secretExpiresIn', { count: days });
    }

    async function handle(msg: NodeMessageInFlow & Record<string, unknown>, send: (msgs: Array<NodeMessage | null>) => void, done: (err?: Error) => void): Promise<void> {
      sending++;
      showStatus();
      let outcome: { sent: SendResult } | { failed: MailError };
      try {
        outcome = { sent: await sendOne(msg) };
      } catch (err) {
        outcome = { failed: err instanceof MailError ? err : internalError() };
      }
      sending--;
      if ('sent' in outcome) {
        msg.email = outcome.sent;
        sentCount++;
        showStatus();
        send([msg, null]);
        done();
        return;
      }
      const msgError = toMsgError(RED._, outcome.failed, ref);
      msg.error = msgError;
      node.status({ fill: 'red', shape: 'ring', text: categoryText(RED._, outcome.failed.category) });
      send([null, msg]);
      done(new Error(`${msgError.message} ${msgError.hint}`));
    }

    async function sendOne(msg: NodeMessage & Record<string, unknown>): Promise<SendResult> {
      if (!runtime || !rules) {
        throw new MailError({ category: 'validation', code: 'InvalidConnection', messageKey: 'connectionInvalid', hintKey: 'connectionInvalid' });
      }
      let mail: ComposedMail;
      try {
        mail = composeMail(await readInput(msg), rules);
      } catch (err) {
        const refused = err instanceof MailError ? unquoted(err) : err;
        // Refused before the mailer saw it: still counted in the connection's usage data.
        if (refused instanceof MailError) runtime.mailer.recordRejected(ref, refused);
        throw refused;
      }
      return runtime.mailer.send({ ...jobSettings, mail });
    }

    /** The refusal without the value it quotes, when that value came from the node or the environment. */
    function unquoted(error: MailError): MailError {
      const field = error.params.field;
      if (typeof field !== 'string' || !unquotable.has(field) || !('value' in error.params)) return error;
      return amend(error, { messageKey: 'configuredValueInvalid', params: { value: '' } });
    }

    node.on('input', (msg, send, done) => {
      const running = handle(msg as NodeMessageInFlow & Record<string, unknown>, send, done);
      pending.add(running);
      void running.finally(() => pending.delete(running));
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      // Every mail this node took leaves by an output before the node is gone: queued and waiting
      // ones as `cancelled` now, those in flight when they finish or the grace period ends.
      stopping.abort();
      clearInterval(expiryTimer);
      const grace = setTimeout(() => aborting.abort(), closeGraceMs(RED));
      void Promise.allSettled([...pending]).then(() => {
        clearTimeout(grace);
        node.status({});
        done();
      });
    });
  }

  RED.nodes.registerType('email-task', EmailTaskConstructor);
};
