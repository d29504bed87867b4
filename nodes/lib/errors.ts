/**
 * MailError: the only error that leaves lib/. Raw axios and MSAL errors carry request headers and
 * bodies (secrets, tokens), so they are translated here into category, code, hint and ids.
 * Texts are i18n keys (`errors.*`, `hints.*` in locales/<lang>/email-task.json); the glue translates.
 */

export const CATEGORIES = [
  'validation',
  'auth',
  'permission',
  'mailbox',
  'recipient',
  'size',
  'throttled',
  'network',
  'server',
  'unknown-outcome',
  'cancelled',
] as const;
export type ErrorCategory = (typeof CATEGORIES)[number];

export type I18nParams = Record<string, string | number>;

/**
 * What a MailError is built from: category, code and the two i18n keys; every other field of the
 * class may be given (the class documents each).
 */
export type MailErrorInit = Pick<MailError, 'category' | 'code' | 'messageKey' | 'hintKey'> &
  Partial<Omit<MailError, 'category' | 'code' | 'messageKey' | 'hintKey' | keyof Error>>;

/** The ids a failure is reported with (usage data, msg.error, Test connection), in msg.error's order. */
export const FAILURE_IDS = ['status', 'graphCode', 'aadsts', 'requestId', 'clientRequestId'] as const;
export type FailureIds = Pick<MailError, (typeof FAILURE_IDS)[number]>;
/** The same ids as a report shows them: absent ones are null. */
export type ReportedIds = { [K in keyof FailureIds]-?: Exclude<FailureIds[K], undefined> | null };

/** A failure as the usage data keeps it: what it is, its texts' keys and parameters, its ids. */
export type FailureReport = Pick<MailError, 'category' | 'code' | 'messageKey' | 'hintKey' | 'noteKey' | 'params'> & FailureIds;

export function reportedIds(error: FailureIds): ReportedIds {
  return {
    status: error.status ?? null,
    graphCode: error.graphCode ?? null,
    aadsts: error.aadsts ?? null,
    requestId: error.requestId ?? null,
    clientRequestId: error.clientRequestId ?? null,
  };
}

export function failureReport(error: MailError): FailureReport {
  const { category, code, messageKey, hintKey, noteKey, params } = error;
  const ids = Object.fromEntries(FAILURE_IDS.map((id) => [id, error[id]])) as FailureIds;
  return { category, code, messageKey, hintKey, noteKey, params, ...ids };
}

/** Upstream descriptions are cut to a few hundred characters: enough for Entra's longest sentence. */
export const DETAIL_MAX = 400;
/** Error codes (Graph's, Entra's `error`) are short words; anything longer is not one. */
const CODE_MAX = 100;
/** Values quoted in a message (an address, a header name) are cut shorter still. */
export const VALUE_MAX = 200;
/** How much of an upstream description is looked at: several times what is kept (DETAIL_MAX). */
const DESCRIPTION_SCAN = 8 * 1024;
/** C0 and C1 controls, DEL and the Unicode line and paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * Text made safe to quote in a message or a log line: control characters (CR/LF would let a
 * value forge log lines) become one space, and the text is cut to `max` characters.
 */
export function quote(text: string, max = VALUE_MAX): string {
  // At most `max` characters with the ellipsis, so quoting again (errors are copied) changes nothing.
  const head = text.length > max ? text.slice(0, max - 1) : text;
  const line = head.replace(CONTROL, ' ');
  return text.length > max ? `${line}…` : line;
}

function quoteParams(params: I18nParams): I18nParams {
  const out: I18nParams = {};
  for (const [name, value] of Object.entries(params)) out[name] = typeof value === 'string' ? quote(value, name === 'detail' ? DETAIL_MAX : VALUE_MAX) : value;
  return out;
}

export class MailError extends Error {
  readonly category: ErrorCategory;
  readonly code: string;
  /** key under `errors.` */
  readonly messageKey: string;
  /** key under `hints.` */
  readonly hintKey: string;
  /** key under `hints.` for a sentence added after the hint (why retrying stopped). */
  readonly noteKey?: string;
  readonly params: I18nParams;
  readonly status?: number;
  readonly graphCode?: string;
  readonly aadsts?: number;
  readonly requestId?: string;
  readonly clientRequestId?: string;
  readonly retryable: boolean;
  /** Seconds to wait before a retry, from Retry-After. */
  readonly retryAfterSeconds?: number;
  /** Upstream description (Entra's error_description, Graph's message), already redacted. */
  readonly detail?: string;
  /** Tries made for the mail (default 1). */
  readonly attempts: number;

  constructor(init: MailErrorInit) {
    // The English fallback message names the code only; the glue shows the translated text.
    // Everything quoted in a text is made one capped line here, once, whatever built the error:
    // upstream codes and descriptions and input values reach logs, msg.error and the editor.
    const code = quote(init.code, CODE_MAX);
    const detail = init.detail === undefined ? undefined : quote(init.detail, DETAIL_MAX);
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'MailError';
    this.category = init.category;
    this.code = code;
    this.messageKey = init.messageKey;
    this.hintKey = init.hintKey;
    this.noteKey = init.noteKey;
    this.params = quoteParams({ code, detail: detail ?? '', ...init.params });
    this.status = init.status;
    this.graphCode = init.graphCode === undefined ? undefined : quote(init.graphCode, CODE_MAX);
    this.aadsts = init.aadsts;
    this.requestId = init.requestId;
    this.clientRequestId = init.clientRequestId;
    this.retryable = init.retryable ?? false;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.detail = detail;
    this.attempts = init.attempts ?? 1;
  }
}

/**
 * A copy of a failure with some fields changed. Errors are shared (a failed token request reaches
 * every mail waiting for it), so they are never changed in place.
 */
export function amend(
  error: MailError,
  changes: Partial<Pick<MailErrorInit, 'category' | 'messageKey' | 'hintKey' | 'noteKey' | 'params' | 'retryable' | 'attempts'>> = {},
): MailError {
  return new MailError({ ...error, ...changes, params: { ...error.params, ...changes.params } });
}

/** The same failure with another category and hint, when the context knows the cause better. */
export function withHint(error: MailError, category: ErrorCategory, hintKey: string): MailError {
  return amend(error, { category, hintKey });
}

/** A mail or request over one of Graph's size limits, refused before it is sent (message and hint share a key). */
export function sizeError(code: string, key: string, size: number, max: number): MailError {
  return new MailError({ category: 'size', code, messageKey: key, hintKey: key, params: { size, max } });
}

export function validationError(code: string, messageKey: string, params: I18nParams, hintKey = 'fixInput'): MailError {
  return new MailError({ category: 'validation', code, messageKey, hintKey, params });
}

/**
 * Hides anything that looks like a credential in upstream text before it is stored anywhere:
 * the known secrets, bearer tokens and JWT-shaped strings. Only the first `max` characters are
 * kept (a secret that starts inside them is hidden whole), so the patterns below never see more
 * than a few thousand characters, however long the upstream text.
 */
export function redact(text: string, secrets: readonly string[] = [], max = DETAIL_MAX): string {
  const cut = text.length > max;
  const kept = hideSecrets(text, secrets.filter((s) => s.length >= 4), max);
  const out = hideTokens(kept.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]'), cut);
  return cut ? `${out}…` : out;
}

/**
 * JWT-shaped strings (`eyJ…` with at least 8 characters in each of the first two parts) become
 * `[redacted-token]`. Word by word and part by part, so the work is linear: the equivalent regex
 * restarts at every `eyJ` of a long run. With `cut`, a token cut off at the end of the text (no
 * longer both dots), however short what is left of it, is hidden too.
 */
function hideTokens(text: string, cut: boolean): string {
  return text.replace(/[A-Za-z0-9_.-]+/g, (word, offset: number) => {
    if (!word.includes('eyJ')) return word;
    const atEnd = cut && offset + word.length === text.length;
    const parts = word.split('.');
    const out: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const start = parts[i].indexOf('eyJ');
      const firstLong = start !== -1 && parts[i].length - start - 3 >= 8;
      const whole = firstLong && i + 2 < parts.length && parts[i + 1].length >= 8;
      // Cut off at the end: even a few characters of a token are hidden.
      const partial = start !== -1 && atEnd && !whole && i + 2 >= parts.length;
      if (whole || partial) {
        out.push(`${parts[i].slice(0, start)}[redacted-token]`);
        if (partial) break;
        i += 2;
        continue;
      }
      out.push(parts[i]);
    }
    return out.join('.');
  });
}

/**
 * The text's first `limit` characters with every occurrence of a secret replaced, in one pass:
 * each secret's next position is looked up again only once the scan has passed it.
 */
function hideSecrets(text: string, secrets: readonly string[], limit: number): string {
  if (!secrets.length) return text.slice(0, limit);
  // A secret starting before the limit is found whole.
  const window = text.slice(0, limit + Math.max(...secrets.map((s) => s.length)));
  const next = secrets.map((s) => window.indexOf(s));
  let out = '';
  let pos = 0;
  while (pos < limit) {
    let at = -1;
    let length = 0;
    secrets.forEach((secret, i) => {
      if (next[i] !== -1 && next[i] < pos) next[i] = window.indexOf(secret, pos);
      if (next[i] !== -1 && (at === -1 || next[i] < at || (next[i] === at && secret.length > length))) {
        at = next[i];
        length = secret.length;
      }
    });
    if (at === -1 || at >= limit) {
      out += window.slice(pos, limit);
      break;
    }
    out += `${window.slice(pos, at)}[redacted]`;
    pos = at + length;
  }
  return out;
}

/** AADSTS codes that a person can act on, with the category and hint for each. */
const AADSTS: Readonly<Record<number, { category: ErrorCategory; hintKey: string }>> = {
  7000215: { category: 'auth', hintKey: 'invalidSecret' },
  7000222: { category: 'auth', hintKey: 'expiredSecret' },
  700016: { category: 'auth', hintKey: 'appNotInTenant' },
  90002: { category: 'auth', hintKey: 'tenantNotFound' },
  900023: { category: 'auth', hintKey: 'tenantInvalid' },
  7000218: { category: 'auth', hintKey: 'noCredential' },
  70011: { category: 'auth', hintKey: 'invalidScope' },
  700027: { category: 'auth', hintKey: 'certificateInvalid' },
  7000112: { category: 'auth', hintKey: 'appDisabled' },
  53003: { category: 'permission', hintKey: 'conditionalAccess' },
  // Resource principal not found: in practice the wrong cloud for the tenant, or a mistyped Graph URL.
  500011: { category: 'auth', hintKey: 'resourceNotFound' },
  65001: { category: 'permission', hintKey: 'consentMissing' },
  50049: { category: 'auth', hintKey: 'invalidInstance' },
  // Cross-cloud requests (a tenant of one national cloud asked through another's login host).
  90038: { category: 'auth', hintKey: 'crossCloud' },
  900382: { category: 'auth', hintKey: 'crossCloud' },
  900432: { category: 'auth', hintKey: 'crossCloud' },
  700024: { category: 'auth', hintKey: 'clockSkew' },
};

/** Entra's "transient error, try again" codes: retried whatever HTTP status they come with. */
const TRANSIENT_AADSTS = new Set([50033, 90024, 90033]);

export interface EntraErrorDetails {
  aadsts?: number;
  error?: string;
  description?: string;
  status?: number;
  requestId?: string;
  retryAfterSeconds?: number;
}

/** A refusal from the token endpoint (Entra ID). */
export function entraError(details: EntraErrorDetails, secrets: readonly string[]): MailError {
  const known = details.aadsts !== undefined ? AADSTS[details.aadsts] : undefined;
  const transient = details.aadsts !== undefined && TRANSIENT_AADSTS.has(details.aadsts);
  const retryable = transient || (details.status !== undefined && (details.status === 429 || details.status >= 500));
  const code = details.aadsts !== undefined ? `AADSTS${details.aadsts}` : details.error || 'token_error';
  return new MailError({
    category: known?.category ?? (retryable ? 'server' : 'auth'),
    code,
    messageKey: 'tokenRefused',
    hintKey: known?.hintKey ?? (retryable ? 'entraUnavailable' : 'authOther'),
    status: details.status,
    aadsts: details.aadsts,
    requestId: details.requestId,
    retryable,
    retryAfterSeconds: details.retryAfterSeconds,
    // Secrets are hidden before the description is cut out, so none is split at a boundary.
    detail: details.description ? entraDescription(redact(details.description, secrets, DESCRIPTION_SCAN)) : undefined,
  });
}

/** `AADSTS7000215: Invalid client secret ...` → 7000215. */
export function aadstsFrom(text: string | undefined): number | undefined {
  // The code leads Entra's sentence; a capped prefix keeps the search short on hostile text.
  const match = /AADSTS(\d{1,9})/.exec((text ?? '').slice(0, DESCRIPTION_SCAN));
  return match ? Number(match[1]) : undefined;
}

/**
 * Entra's own sentence, without what MSAL and Entra wrap around it: MSAL's "Error(s): … - Timestamp:
 * … - Description: …" frame and Entra's trailing Trace ID / Correlation ID / Timestamp (kept elsewhere).
 * Plain index searches on a capped prefix: a backtracking pattern here was quadratic on
 * whitespace runs in upstream text.
 */
export function entraDescription(text: string): string {
  const head = text.slice(0, DESCRIPTION_SCAN);
  const labelled = head.indexOf('Description:');
  let described = labelled === -1 ? head : head.slice(labelled + 'Description:'.length);
  const ends = ['\n', 'Trace ID:', 'Correlation ID:', ' - Timestamp:'].map((marker) => described.indexOf(marker)).filter((i) => i !== -1);
  if (ends.length) described = described.slice(0, Math.min(...ends));
  described = described.trim();
  // The frame's " - " before a cut-off label.
  if (described.endsWith(' -')) described = described.slice(0, -2).trimEnd();
  return described;
}

/** Graph error codes → category and hint. Branch on code, never on message. */
const GRAPH_CODES: Readonly<Record<string, { category: ErrorCategory; hintKey: string }>> = {
  ErrorAccessDenied: { category: 'permission', hintKey: 'accessDenied' },
  NoPermissionsInAccessToken: { category: 'permission', hintKey: 'noRoles' },
  ErrorSendAsDenied: { category: 'permission', hintKey: 'sendAsDenied' },
  InvalidAuthenticationToken: { category: 'auth', hintKey: 'tokenRejected' },
  ErrorInvalidUser: { category: 'mailbox', hintKey: 'senderNotFound' },
  ResourceNotFound: { category: 'mailbox', hintKey: 'senderNotFound' },
  ErrorItemNotFound: { category: 'mailbox', hintKey: 'senderNotFound' },
  MailboxNotEnabledForRESTAPI: { category: 'mailbox', hintKey: 'mailboxNotEnabled' },
  MailboxNotSupportedForRESTAPI: { category: 'mailbox', hintKey: 'mailboxNotEnabled' },
  ErrorInvalidRecipients: { category: 'recipient', hintKey: 'invalidRecipients' },
  ErrorTooManyRecipients: { category: 'recipient', hintKey: 'tooManyRecipients' },
  ErrorRecipientNotFound: { category: 'recipient', hintKey: 'invalidRecipients' },
  ErrorMessageSizeExceeded: { category: 'size', hintKey: 'messageTooLarge' },
  RequestEntityTooLarge: { category: 'size', hintKey: 'requestTooLarge' },
  InvalidInternetMessageHeader: { category: 'validation', hintKey: 'invalidHeader' },
  InvalidInternetMessageHeaderCollection: { category: 'validation', hintKey: 'invalidHeader' },
  ErrorQuotaExceeded: { category: 'mailbox', hintKey: 'quotaExceeded' },
  ApplicationThrottled: { category: 'throttled', hintKey: 'throttled' },
  TooManyRequests: { category: 'throttled', hintKey: 'throttled' },
  // Exchange Online blocks a mailbox from sending (typically for 24 h past 10,000 recipients in a
  // day): a mailbox state, not a permission, and no retry within minutes can help.
  ErrorMessageSubmissionBlocked: { category: 'mailbox', hintKey: 'submissionBlocked' },
  SubmissionQuotaExceeded: { category: 'mailbox', hintKey: 'submissionBlocked' },
};

/** Codes that no retry can help, whatever their HTTP status. */
const NEVER_RETRY = new Set(['ErrorMessageSubmissionBlocked', 'SubmissionQuotaExceeded']);

export interface GraphErrorDetails {
  status: number;
  graphCode?: string;
  message?: string;
  requestId?: string;
  clientRequestId?: string;
  retryAfterSeconds?: number;
}

/** A refusal from Graph. */
export function graphError(details: GraphErrorDetails, secrets: readonly string[]): MailError {
  const known = details.graphCode ? GRAPH_CODES[details.graphCode] : undefined;
  const { category, hintKey } = known ?? categoryForStatus(details.status);
  return new MailError({
    category,
    code: details.graphCode || `HTTP${details.status}`,
    messageKey: 'graphRefused',
    hintKey,
    status: details.status,
    graphCode: details.graphCode,
    requestId: details.requestId,
    clientRequestId: details.clientRequestId,
    retryable: !NEVER_RETRY.has(details.graphCode ?? '') && (details.status === 429 || details.status === 503 || details.status === 504),
    retryAfterSeconds: details.retryAfterSeconds,
    detail: details.message ? redact(details.message, secrets) : undefined,
  });
}

function categoryForStatus(status: number): { category: ErrorCategory; hintKey: string } {
  if (status === 429) return { category: 'throttled', hintKey: 'throttled' };
  if (status === 401) return { category: 'auth', hintKey: 'tokenRejected' };
  if (status === 403) return { category: 'permission', hintKey: 'accessDenied' };
  if (status === 404) return { category: 'mailbox', hintKey: 'senderNotFound' };
  if (status === 413) return { category: 'size', hintKey: 'requestTooLarge' };
  if (status >= 500) return { category: 'server', hintKey: 'graphUnavailable' };
  return { category: 'validation', hintKey: 'graphBadRequest' };
}

/** Socket and TLS error codes that mean the request never reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPROTO',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_|ERR_SSL_)/;

export interface NetworkFailure {
  /** Node's error code (ECONNREFUSED, CERT_HAS_EXPIRED, ...), or ETIMEDOUT for our own timeout. */
  code: string;
  /** True when the request body may have reached the server. */
  maybeSent: boolean;
  host: string;
}

export function isTlsCode(code: string): boolean {
  return TLS_CODES.test(code);
}

export function isNotSentCode(code: string): boolean {
  return NOT_SENT_CODES.has(code) || isTlsCode(code);
}

/**
 * A transport failure. `maybeSent` matters for sendMail, which is not idempotent: a mail that may
 * have been accepted is reported as `unknown-outcome` instead of `network`.
 */
export function networkError(failure: NetworkFailure, operation: 'token' | 'graph', clientRequestId?: string): MailError {
  const tls = isTlsCode(failure.code);
  const unknown = operation === 'graph' && failure.maybeSent;
  return new MailError({
    category: unknown ? 'unknown-outcome' : 'network',
    code: failure.code,
    messageKey: unknown ? 'unknownOutcome' : tls ? 'tlsFailed' : 'networkFailed',
    hintKey: unknown ? 'unknownOutcome' : tls ? 'tls' : failure.code === 'ETIMEDOUT' ? 'timeout' : 'network',
    params: { host: failure.host },
    clientRequestId,
    retryable: !unknown,
  });
}

/** Our own bug: its text may hold request details, so only this generic error is passed on. */
export function internalError(): MailError {
  return new MailError({ category: 'server', code: 'InternalError', messageKey: 'internal', hintKey: 'internal' });
}
