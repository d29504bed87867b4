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

/** msg.error on output 2, as README.md ("What comes out") documents it; absent ids are null. */
export type MsgError = { message: string; hint: string; source: NodeRef } & Pick<MailError, 'category' | 'code' | 'retryable' | 'attempts'> & ReportedIds;

type Translate = NodeAPI['_'];

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
  return { message, category: error.category, code: error.code, hint, ...reportedIds(error), retryable: error.retryable, attempts: error.attempts, source };
}
