/**
 * Worker node `email-task`: per message it evaluates its typedInputs and hands them to lib's one
 * entry point (sendMessage); it reports by output 1 (sent) or output 2 (failed), status and done().
 */
import { setMaxListeners } from 'node:events';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { MailError, internalError, validationError } from './lib/errors';
import { failureToCatch, isTemplated, readTaskSettings, type RawTaskConfig } from './lib/settings';
import { renderTemplate, type ContextLookup } from './lib/template';
import type { ConnectionRuntime } from './lib/connection';
import type { WaitInfo } from './lib/mailer';
import { credentialExpiry } from './lib/expiry';
import { msgFields, sendMessage, type ConnectionChoice, type MessageTask } from './lib/send-message';
import type { MailInput, SendResult, TaskSettings, TypedField } from './lib/types';
import { closeGraceMs, connectionByKey, envLookup, type ConnectionNode } from './node-red-runtime';
import { categoryKey, problemText, statusKey, statusText, toMsgError } from './texts';

type EmailTaskDef = NodeDef & RawTaskConfig & { connection?: string; wires?: unknown };

type Evaluator = (msg: NodeMessage) => Promise<unknown>;

export = function register(RED: NodeAPI): void {
  // Shared by every task: the runtime has one language.
  const statusTexts = new StatusTexts(RED);

  function EmailTaskConstructor(this: Node, config: EmailTaskDef): void {
    RED.nodes.createNode(this, config);
    // Node-RED calls the constructor with the node as `this`; the handlers below close over it.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const settings = readTaskSettings(config);
    const byKey = config.authType === 'connectionKey';
    const connection = config.authType === undefined || config.authType === 'connection'
      ? (RED.nodes.getNode(config.connection ?? '') as ConnectionNode | null)
      : null;
    const runtime = connection?.runtime;
    // By Key, the connection is found per message among the deployed ones.
    const choice: ConnectionChoice = byKey ? { byKey: connectionByKey } : runtime;

    const readInput = inputReader(RED, node, settings);
    // Output 2 wired? Node-RED hands the node its wires; they change only with a redeploy.
    const failedWires = Array.isArray(config.wires) ? (config.wires as unknown[])[1] : undefined;
    const toCatch = failureToCatch(settings.onFailure, Array.isArray(failedWires) && failedWires.length > 0);

    const status = new TaskStatus(RED, node, runtime, statusTexts);
    const pending = new Set<Promise<void>>();
    // close: `stopping` fails queued and waiting mail at once; `aborting` ends requests still in
    // flight when the grace period is over, before Node-RED's own close timeout gives up on us.
    const stopping = new AbortController();
    const aborting = new AbortController();
    // Every queued or in-flight mail listens on these: a thousand listeners is the design, not a leak.
    setMaxListeners(0, stopping.signal, aborting.signal);
    const task: MessageTask = {
      settings,
      node: { id: node.id, type: node.type, name: node.name ?? '' },
      stopping: stopping.signal,
      aborting: aborting.signal,
      onWait: (wait) => status.wait(wait),
      onResume: () => status.resume(),
    };

    if (runtime && credentialExpiry(runtime.settings)?.warn) status.show();
    // A task may sit idle for days: its status follows the countdown (and enters the 30 days) hourly.
    const expiryTimer = runtime && credentialExpiry(runtime.settings) ? setInterval(() => status.idle && credentialExpiry(runtime.settings)?.warn && status.show(), 3_600_000) : undefined;
    expiryTimer?.unref();
    if (!runtime && !byKey) {
      // A key the editor translates into its own language, as core nodes send theirs.
      node.status({ fill: 'red', shape: 'ring', text: statusKey(connection ? 'connectionInvalid' : 'noConnection') });
      if (connection) for (const problem of connection.problems) node.warn(problemText(RED._, problem));
    }

    async function handle(msg: NodeMessageInFlow & Record<string, unknown>, send: (msgs: Array<NodeMessage | null>) => void, done: (err?: Error) => void): Promise<void> {
      status.sending++;
      status.show();
      let outcome: { sent: SendResult } | { failed: MailError };
      try {
        outcome = { sent: await sendMessage(choice, () => readInput(msg), task) };
      } catch (err) {
        outcome = { failed: err instanceof MailError ? err : internalError() };
      }
      status.sending--;
      if ('sent' in outcome) {
        msg.email = outcome.sent;
        status.sent++;
        status.show();
        send([msg, null]);
        done();
        return;
      }
      const msgError = toMsgError(RED._, outcome.failed, task.node);
      msg.error = msgError;
      // A connection that cannot run says so, not "invalid input" (the docs promise this status),
      // whether it is the picked one or the one a message's Key names.
      const invalidConnection = outcome.failed.code === 'InvalidConnection';
      node.status({ fill: 'red', shape: 'ring', text: invalidConnection ? statusKey('connectionInvalid') : categoryKey(outcome.failed.category) });
      send([null, msg]);
      if (!toCatch) return done();
      // The log keeps Microsoft's own text after the plain sentences: that is where admins look.
      done(new Error([msgError.message, msgError.hint, msgError.details].filter(Boolean).join(' ')));
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

/**
 * The node's typedInputs, parsed once, as one function that evaluates them for a message (plus the
 * msg fields read as they are).
 */
function inputReader(RED: NodeAPI, node: Node, settings: TaskSettings): (msg: NodeMessage) => Promise<MailInput> {
  const env = envLookup(RED, node);
  const lookup: ContextLookup = (scope, key) => (scope === 'env' ? env(key) : node.context()[scope].get(key));

  function evaluatorFor(field: TypedField, value: string, type: string): Evaluator {
    // An emptied msg field means the property is not used.
    if (type === 'msg') {
      if (value === '') return async () => undefined;
      // A message without msg.mail has no id to answer: lib says so (MissingMessageId).
      if (field === 'messageId') return async (msg) => (hasParent(msg, value) ? RED.util.getMessageProperty(msg, value) : undefined);
      return async (msg) => RED.util.getMessageProperty(msg, value);
    }
    if (type === 'str') {
      if (!isTemplated(field)) return async () => value;
      // A body template is HTML-escaped only when the mail will be HTML.
      const escapeHtml = field === 'body' && settings.bodyFormat === 'html';
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

  const evaluators = settings.inputs.map(({ field, value, type }) => [field, evaluatorFor(field, value, type)] as const);
  return async (msg) => {
    const input = msgFields(msg);
    for (const [field, evaluate] of evaluators) {
      try {
        input[field] = await evaluate(msg);
      } catch {
        // The evaluation error text may quote the expression; the field name is what helps.
        throw validationError('PropertyEvaluation', 'propertyEvaluation', { field }, 'fixInput');
      }
    }
    return input;
  };
}

/** True when every property above `path`'s last part is an object (`mail` for `mail.id`). */
function hasParent(msg: NodeMessage, path: string): boolean {
  const dot = path.lastIndexOf('.');
  if (dot === -1) return true;
  let value: unknown = msg;
  for (const part of path.slice(0, dot).split('.')) {
    if (typeof value !== 'object' || value === null) return false;
    value = (value as Record<string, unknown>)[part];
  }
  return typeof value === 'object' && value !== null;
}

/** The task's status: yellow while mail waits (or the secret is near expiry), blue while sending, green with the count sent. */
class TaskStatus {
  sent = 0;
  sending = 0;
  /** Mails waiting on a retry or a throttled mailbox, and the latest wait to show. */
  private waiting = 0;
  private lastWait: WaitInfo | undefined;
  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    private readonly runtime: ConnectionRuntime | undefined,
    private readonly texts: StatusTexts,
  ) {}

  get idle(): boolean {
    return this.sending === 0 && this.waiting === 0;
  }

  wait(wait: WaitInfo): void {
    this.waiting++;
    this.lastWait = wait;
    this.show();
  }

  resume(): void {
    this.waiting--;
    this.show();
  }

  show(): void {
    const { RED, node } = this;
    if (this.waiting > 0 && this.lastWait) {
      const seconds = Math.max(1, Math.ceil(this.lastWait.ms / 1000));
      const text = this.lastWait.category === 'throttled'
        ? statusText(RED._, 'throttled', { seconds })
        : statusText(RED._, 'retrying', { seconds, code: this.lastWait.code });
      node.status({ fill: 'yellow', shape: 'ring', text });
    } else if (this.sending > 0) {
      node.status({ fill: 'blue', shape: 'dot', text: this.texts.counted('sending', this.sending) });
    } else {
      // Idle: a secret (or certificate) about to expire is what the user must hear about.
      const expiry = this.runtime ? credentialExpiry(this.runtime.settings) : undefined;
      if (expiry?.warn) node.status({ fill: 'yellow', shape: 'ring', text: expiryStatus(RED, expiry.days) });
      else node.status({ fill: 'green', shape: 'dot', text: this.texts.counted('sent', this.sent) });
    }
  }
}

/**
 * "sending (n)" and "sent: n" by n, translated once per runtime, not per task: 1,000 tasks in a
 * burst repeat the same few, and i18next's plural handling was 13% of the CPU (bench:scale). Small
 * counts only, so the cache stays small however many mails a task sends.
 */
class StatusTexts {
  private static readonly MAX_COUNT = 100;
  private readonly cache = new Map<string, string>();

  constructor(private readonly RED: NodeAPI) {}

  counted(key: 'sending' | 'sent', count: number): string {
    if (count > StatusTexts.MAX_COUNT) return statusText(this.RED._, key, { count });
    const id = `${key}|${count}`;
    let text = this.cache.get(id);
    if (text === undefined) {
      text = statusText(this.RED._, key, { count });
      this.cache.set(id, text);
    }
    return text;
  }
}

/** Texts without a number are keys the editor translates; a count is rendered here (the editor passes no parameters). */
function expiryStatus(RED: NodeAPI, days: number): string {
  if (days <= 0) return statusKey('secretExpired');
  return days === 1 ? statusKey('secretExpiresWithinDay') : statusText(RED._, 'secretExpiresIn', { count: days });
}
