/** Glue shared by both nodes: the connection node's shape and turning MailError into text. */
import type { Node, NodeAPI } from 'node-red';
import type { ConnectionRuntime } from './lib/connection';
import { reportedIds, type MailError, type ReportedIds } from './lib/errors';
import type { ConfigProblem, ConnectionCredentials, Destination, EnvLookup } from './lib/settings';
import type { NodeRef } from './lib/types';

export const PACKAGE = 'node-red-contrib-office365-mail';
/** Errors, hints and category texts live in the email task's catalogue; full keys work from any node. */
const EMAIL_TASK_NS = `${PACKAGE}/email-task:email-task`;
const CONNECTION_NS = `${PACKAGE}/office365-mail-connection:office365-mail-connection`;

export interface ConnectionNode extends Node<ConnectionCredentials> {
  /** Absent when the configuration is invalid; `problems` says why. */
  runtime?: ConnectionRuntime;
  problems: ConfigProblem[];
  key: string;
  /** Stops the daily expiry warning (set while the credential's expiry is watched). */
  stopExpiryWatch?: () => void;
  /** Where its stored credentials may be sent: Test connection uses them only for this. */
  destination: Destination;
}

/** msg.error on output 2, as README.md ("What comes out") documents it; absent ids are null. */
export type MsgError = { message: string; hint: string; source: NodeRef } & Pick<MailError, 'category' | 'code' | 'retryable' | 'attempts'> & ReportedIds;

type Translate = NodeAPI['_'];

/**
 * `${NAME}` in a credential, resolved as Node-RED resolves `env` for this node (its flow's and
 * group's env first, then the process environment). The one resolution for the deployed
 * connection and for Test connection, which passes the deployed node.
 */
export function envLookup(RED: NodeAPI, node: Node): EnvLookup {
  return (name) => {
    const value: unknown = RED.util.evaluateNodeProperty(name, 'env', node, {});
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
}

/**
 * How long requests in flight may run on at close: Node-RED gives up on a node after its
 * `nodeCloseTimeout` (15 s by default), so ours end a little before that.
 */
export function closeGraceMs(RED: NodeAPI): number {
  const configured = Number((RED.settings as { nodeCloseTimeout?: unknown }).nodeCloseTimeout);
  const closeTimeout = Number.isFinite(configured) && configured > 0 ? configured : 15_000;
  return Math.max(500, closeTimeout - 3000);
}

export function errorText(t: Translate, error: Pick<MailError, 'messageKey' | 'hintKey' | 'noteKey' | 'params'>): { message: string; hint: string } {
  const hint = t(`${EMAIL_TASK_NS}.hints.${error.hintKey}`, error.params);
  return {
    message: t(`${EMAIL_TASK_NS}.errors.${error.messageKey}`, error.params),
    hint: error.noteKey ? `${hint} ${t(`${EMAIL_TASK_NS}.hints.${error.noteKey}`, error.params)}` : hint,
  };
}

export function categoryText(t: Translate, category: string): string {
  return t(`${EMAIL_TASK_NS}.category.${category}`);
}

export function statusText(t: Translate, key: string, params?: Record<string, string | number>): string {
  return t(`${EMAIL_TASK_NS}.status.${key}`, params);
}

export function problemText(t: Translate, problem: ConfigProblem): string {
  const field = t(`${CONNECTION_NS}.label.${problem.field}`);
  return t(`${CONNECTION_NS}.deploy.${problem.key}`, { field, ...problem.params });
}

export function toMsgError(t: Translate, error: MailError, source: NodeRef): MsgError {
  const { message, hint } = errorText(t, error);
  return { message, category: error.category, code: error.code, hint, ...reportedIds(error), retryable: error.retryable, attempts: error.attempts, source };
}
