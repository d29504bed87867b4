/**
 * lib's i18n keys as the user's text, in the runtime's language: status, msg.error, log lines,
 * Test connection and the usage data.
 */
import type { NodeAPI } from 'node-red';
import { reportedIds, type MailError, type ReportedIds } from './lib/errors';
import type { ConfigProblem } from './lib/settings';
import type { NodeRef } from './lib/types';

const PACKAGE = 'node-red-contrib-office365-mail';
/** Errors, hints and category texts live in the email task's catalogue; full keys work from any node. */
const EMAIL_TASK_NS = `${PACKAGE}/email-task:email-task`;
const CONNECTION_NS = `${PACKAGE}/office365-mail-connection:office365-mail-connection`;
const MAIL_IN_NS = `${PACKAGE}/office365-mail-in:office365-mail-in`;

/**
 * msg.error on output 2, as README.md ("What comes out") documents it; absent ids are null.
 * `message` and `hint` are plain sentences; Microsoft's own text (AADSTS…, trace ids) is `details`.
 */
export type MsgError = { message: string; hint: string; details: string | null; source: NodeRef } & Pick<MailError, 'category' | 'code' | 'retryable' | 'attempts'> & ReportedIds;

/**
 * A failure as an endpoint gives it to the editor: full i18n keys and their parameters, which the
 * editor renders with its own RED._ in the user's language, plus the same texts in the runtime's
 * language for callers without a catalogue (curl, scripts).
 */
export interface EditorText {
  messageKey: string;
  hintKey: string;
  noteKey: string | null;
  params: Record<string, string | number>;
}

type Translate = NodeAPI['_'];

export function errorText(t: Translate, error: Pick<MailError, 'messageKey' | 'hintKey' | 'noteKey' | 'params'>): { message: string; hint: string } {
  const hint = t(`${EMAIL_TASK_NS}.hints.${error.hintKey}`, error.params);
  return {
    message: t(`${EMAIL_TASK_NS}.errors.${error.messageKey}`, error.params),
    hint: error.noteKey ? `${hint} ${t(`${EMAIL_TASK_NS}.hints.${error.noteKey}`, error.params)}` : hint,
  };
}

/** The full keys of a failure's texts, for the editor to render (EditorText). */
export function errorKeys(error: Pick<MailError, 'messageKey' | 'hintKey' | 'noteKey' | 'params'>): EditorText {
  return {
    messageKey: `${EMAIL_TASK_NS}.errors.${error.messageKey}`,
    hintKey: `${EMAIL_TASK_NS}.hints.${error.hintKey}`,
    noteKey: error.noteKey ? `${EMAIL_TASK_NS}.hints.${error.noteKey}` : null,
    params: error.params,
  };
}

/** Microsoft's own text of a failure (Entra's error_description, Graph's message), or null. */
export function detailsOf(error: Pick<MailError, 'detail'>): string | null {
  return error.detail ? error.detail : null;
}

/**
 * A status text the editor translates: Node-RED's editor renders a status text that is an i18n
 * key in its own language (as core's `node-red:common.status.connected`), relative to the node's
 * own catalogue. Only for texts without parameters: the editor passes none.
 */
export function statusKey(key: string): string {
  return `email-task.status.${key}`;
}

/** A failure category as a status key the editor translates (see statusKey). */
export function categoryKey(category: string): string {
  return `email-task.category.${category}`;
}

/** A configuration problem as keys: the field's label key and the problem's key, with its parameters. */
export function problemKeys(problem: ConfigProblem): { field: string; fieldKey: string; key: string; params: Record<string, string | number> } {
  return { field: problem.field, fieldKey: `${CONNECTION_NS}.label.${problem.field}`, key: `${CONNECTION_NS}.deploy.${problem.key}`, params: { ...problem.params } };
}

export function categoryText(t: Translate, category: string): string {
  return t(`${EMAIL_TASK_NS}.category.${category}`);
}

export function statusText(t: Translate, key: string, params?: Record<string, string | number>): string {
  return t(`${EMAIL_TASK_NS}.status.${key}`, params);
}

/** The "email in" node's own texts (status, its log lines). */
export function mailInText(t: Translate, key: string, params?: Record<string, string | number>): string {
  return t(`${MAIL_IN_NS}.${key}`, params);
}

export function problemText(t: Translate, problem: ConfigProblem): string {
  const field = t(`${CONNECTION_NS}.label.${problem.field}`);
  return t(`${CONNECTION_NS}.deploy.${problem.key}`, { field, ...problem.params });
}

export function toMsgError(t: Translate, error: MailError, source: NodeRef): MsgError {
  const { message, hint } = errorText(t, error);
  return { message, category: error.category, code: error.code, hint, details: detailsOf(error), ...reportedIds(error), retryable: error.retryable, attempts: error.attempts, source };
}
