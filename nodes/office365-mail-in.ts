/**
 * Input node `office365-mail-in` ("email in"): reads its settings once, refuses a mailbox the
 * connection does not allow, and runs lib's MailInWatcher on the connection's Graph client, token
 * and the mailbox's shared limits; it sends one message per new mail and reports by status,
 * node.error (Catch nodes) and the connection's usage data.
 */
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { MailError, internalError } from './lib/errors';
import { CursorStore } from './lib/mail-in-cursor';
import { MailInWatcher, readMailInSettings, type MailInEvent, type PollOutcome, type RawMailInConfig } from './lib/mail-in';
import type { NodeRef } from './lib/types';
import type { ConnectionNode } from './node-red-runtime';
import { categoryText, errorText, mailInText, problemText, toMsgError } from './texts';

type MailInDef = NodeDef & RawMailInConfig & { connection?: string };

/** The node as tests see it: one poll on demand, after the one running. */
interface MailInNode extends Node {
  pollNow?: () => Promise<PollOutcome>;
}

export = function register(RED: NodeAPI): void {
  function MailInConstructor(this: MailInNode, config: MailInDef): void {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED calls the constructor with the node as `this`
    const node = this;
    const t = (key: string, params?: Record<string, string | number>): string => mailInText(RED._, key, params);
    const connection = RED.nodes.getNode(config.connection ?? '') as ConnectionNode | null;
    const runtime = connection?.runtime;
    if (!connection || !runtime) {
      node.status({ fill: 'red', shape: 'ring', text: t(connection ? 'status.connectionInvalid' : 'status.noConnection') });
      if (connection) for (const problem of connection.problems) node.warn(problemText(RED._, problem));
      else node.error(t('errors.noConnection'));
      return;
    }
    const ref: NodeRef = { id: node.id, type: node.type, name: node.name ?? '' };

    let settings;
    try {
      settings = readMailInSettings(config, runtime.settings);
    } catch (err) {
      // Refused at deploy: nothing is read, and the log and the status say why.
      const error = err instanceof MailError ? err : internalError();
      const { message, hint } = errorText(RED._, error);
      node.status({ fill: 'red', shape: 'ring', text: t('status.refused') });
      node.error(`${message} ${hint}`);
      runtime.recordFailure(ref, error);
      return;
    }

    const lease = runtime.mailboxLimits(settings.mailbox);
    const userDir = typeof RED.settings.userDir === 'string' && RED.settings.userDir ? RED.settings.userDir : path.join(os.homedir(), '.node-red');
    const cursors = new CursorStore(userDir, { connectionKey: connection.key || connection.id, mailbox: settings.mailbox, folder: settings.folder });
    const folder = settings.folder;

    // Each idle poll reports "watching" again: only a change goes to the editor (and through i18n).
    let shown = '';
    const watchingText = t('status.watching', { folder });
    function show(status: NodeStatus): void {
      const key = `${status.fill}|${status.shape}|${String(status.text)}`;
      if (key === shown) return;
      shown = key;
      node.status(status);
    }

    function fail(error: MailError, statusText: string, fill: 'red' | 'yellow' = 'red'): void {
      const msgError = toMsgError(RED._, error, ref);
      show({ fill, shape: 'ring', text: statusText });
      // To Catch nodes (as msg._error there, Node-RED's own msg.error beside it) and the log.
      node.error(`${msgError.message} ${msgError.hint}`, { error: msgError, payload: msgError.message } as NodeMessage);
      runtime?.recordFailure(ref, error);
    }

    function onEvent(event: MailInEvent): void {
      switch (event.kind) {
        case 'watching':
          show({ fill: 'green', shape: 'dot', text: watchingText });
          return;
        case 'emitted':
          show({ fill: 'green', shape: 'dot', text: t('status.new', { count: event.count }) });
          return;
        case 'throttled':
          show({ fill: 'yellow', shape: 'ring', text: t('status.throttled', { seconds: Math.max(1, Math.ceil(event.ms / 1000)) }) });
          return;
        case 'failed':
          if (event.error.category === 'throttled') {
            fail(event.error, t('status.throttled', { seconds: Math.max(1, Math.ceil(event.retryInMs / 1000)) }), 'yellow');
            return;
          }
          fail(event.error, t('status.failed', { reason: categoryText(RED._, event.error.category), seconds: Math.ceil(event.retryInMs / 1000) }));
          return;
        case 'afterReadFailed':
          fail(event.error, t('status.afterReadFailed', { reason: categoryText(RED._, event.error.category) }));
          return;
      }
    }

    const watcher = new MailInWatcher(settings, { graph: runtime.graph, tokens: runtime.tokens, limits: lease.limits, cursors }, {
      emit: (message) => node.send(message as unknown as NodeMessage),
      event: onEvent,
    });
    node.pollNow = () => watcher.pollNow();
    node.status({ fill: 'grey', shape: 'ring', text: t('status.starting', { folder }) });
    watcher.start();

    node.on('close', (_removed: boolean, done: () => void) => {
      // The timer stops now; a poll in flight ends (its waiting requests are cancelled) before the lease goes.
      void watcher.close().then(() => {
        lease.release();
        node.status({});
        done();
      });
    });
  }

  RED.nodes.registerType('office365-mail-in', MailInConstructor);
};
