/** Reads and checks the nodes' configuration once, at deploy time. */
import { readCertificates, readClientCertificate, type CertificateProblem, type ClientCertificate } from './certificate';
import { endpointsFor, isCloudName } from './clouds';
import { DEFAULT_MAX_RECIPIENTS, looksLikeHtml } from './compose';
import { parseDay } from './expiry';
import { EXCHANGE_MAX_RECIPIENTS, parseAddress } from './recipients';
import { FAILURE_ROUTES, MAIL_ACTIONS, TYPED_FIELDS, type AuthMethod, type BodyFormat, type ConnectionSettings, type FailureRoute, type Importance, type MailAction, type TaskSettings, type TypedField } from './types';

/**
 * A configuration problem: the field and an i18n key under `deploy.` with its parameters. No
 * parameter quotes a field's value: Node-RED fills plain properties from `${NAME}` environment
 * variables, so any value may be a secret, and problems reach the log and the editor.
 */
export interface ConfigProblem {
  field: string;
  key: string;
  params?: Record<string, string>;
}

export type EnvLookup = (name: string) => string | undefined;

export interface RawConnectionConfig {
  key?: unknown;
  name?: unknown;
  tenantId?: unknown;
  applicationId?: unknown;
  senderEmail?: unknown;
  cloud?: unknown;
  loginUrl?: unknown;
  graphUrl?: unknown;
  queueSize?: unknown;
  allowedRecipientDomains?: unknown;
  allowedMailboxes?: unknown;
  maxRecipients?: unknown;
  maxMailsPerMinute?: unknown;
  maxRecipientsPerDay?: unknown;
  authMethod?: unknown;
  proxyUrl?: unknown;
  caBundle?: unknown;
  secretExpiresOn?: unknown;
}

/**
 * Every credential of a connection: Node-RED stores them apart from the flow, and all are
 * `password` type, so the editor only ever learns `has_<name>`.
 */
export const CREDENTIAL_NAMES = ['clientSecret', 'certificate', 'certificatePrivateKey', 'certificatePassphrase', 'proxyPassword'] as const;
export type CredentialName = (typeof CREDENTIAL_NAMES)[number];

/** The connection's credentials as Node-RED stores them (each may be a `${NAME}` reference). */
export type RawConnectionCredentials = Partial<Record<CredentialName, unknown>>;
/** The same as the connection node holds them (`this.credentials`). */
export type ConnectionCredentials = Partial<Record<CredentialName, string>>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const KEY = /^[A-Za-z0-9_-]+$/;
const TENANT_SEGMENT = /^[A-Za-z0-9._-]+$/;
const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export const DEFAULT_QUEUE_SIZE = 1000;

/** The fields that say where a connection's credentials are sent (and how, and trusting whom). */
export const DESTINATION_FIELDS = ['cloud', 'loginUrl', 'graphUrl', 'tenantId', 'applicationId', 'authMethod', 'proxyUrl', 'caBundle'] as const;
export type Destination = Record<(typeof DESTINATION_FIELDS)[number], string>;

/** A connection's destination as configured, with the defaults filled in, for comparison. */
export function destinationOf(config: RawConnectionConfig): Destination {
  const out = {} as Destination;
  for (const field of DESTINATION_FIELDS) out[field] = text(config[field]);
  out.cloud ||= 'global';
  out.authMethod ||= 'secret';
  return out;
}

/** The destination fields in which `b` differs from `a` (none: a stored credential may go there). */
export function destinationChanges(a: Destination, b: Destination): string[] {
  return DESTINATION_FIELDS.filter((field) => a[field] !== b[field]);
}

/** True when the value is a `${NAME}` reference to an environment variable. */
export function isEnvReference(value: unknown): boolean {
  return typeof value === 'string' && ENV_REFERENCE.test(value.trim());
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
}

/** A connection's Key as the connection accepts it (also the check of a Key a message names). */
export function isConnectionKey(value: string): boolean {
  return value.length <= MAX_KEY_LENGTH && KEY.test(value);
}

/** Keys are short names; a longer value is not looked up. */
export const MAX_KEY_LENGTH = 200;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/**
 * `${NAME}` → the environment variable NAME (Node-RED substitutes `${}` in properties but not in
 * credentials); anything else is the secret itself.
 */
export function resolveSecret(value: string, env: EnvLookup): { value?: string; missing?: string } {
  const match = ENV_REFERENCE.exec(value.trim());
  if (!match) return { value };
  const resolved = env(match[1]);
  return resolved ? { value: resolved } : { missing: match[1] };
}

/** Deploy messages for certificate problems (literal keys, so the catalogue test sees them). */
const CERTIFICATE_PROBLEMS: Readonly<Record<CertificateProblem, ConfigProblem>> = {
  certificateUnreadable: { field: 'certificate', key: 'certificateUnreadable' },
  privateKeyUnreadable: { field: 'certificatePrivateKey', key: 'privateKeyUnreadable' },
  privateKeyEncrypted: { field: 'certificatePrivateKey', key: 'privateKeyEncrypted' },
  passphraseWrong: { field: 'certificatePassphrase', key: 'passphraseWrong' },
  keyNotRsa: { field: 'certificatePrivateKey', key: 'keyNotRsa' },
  keyTooSmall: { field: 'certificatePrivateKey', key: 'keyTooSmall' },
  keyMismatch: { field: 'certificatePrivateKey', key: 'keyMismatch' },
  certificateExpired: { field: 'certificate', key: 'certificateExpired' },
  certificateNotYetValid: { field: 'certificate', key: 'certificateNotYetValid' },
};

/** A credential that may be a `${NAME}` reference: its value, or a problem for the field. */
function readCredential(
  raw: unknown,
  field: string,
  env: EnvLookup,
  problems: ConfigProblem[],
  required: boolean,
): string | undefined {
  const value = text(raw);
  if (!value) {
    if (required) problems.push({ field, key: 'required' });
    return undefined;
  }
  const resolved = resolveSecret(value, env);
  if (resolved.missing) problems.push({ field, key: 'secretEnvMissing', params: { name: resolved.missing } });
  return resolved.value;
}

export function readConnectionSettings(
  config: RawConnectionConfig,
  credentials: RawConnectionCredentials | undefined,
  env: EnvLookup,
): { settings?: ConnectionSettings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const key = text(config.key);
  if (!key) problems.push({ field: 'key', key: 'required' });
  else if (!KEY.test(key)) problems.push({ field: 'key', key: 'invalidKey' });

  const tenantId = text(config.tenantId);
  if (!tenantId) problems.push({ field: 'tenantId', key: 'required' });
  // Only what cannot stand in a URL is refused here; Entra itself judges the rest (AADSTS900023,
  // 90002), which says more than we could. The editor flags non-GUID, non-domain values.
  else if (!TENANT_SEGMENT.test(tenantId)) problems.push({ field: 'tenantId', key: 'invalidTenant' });

  const applicationId = text(config.applicationId);
  if (!applicationId) problems.push({ field: 'applicationId', key: 'required' });
  else if (!isGuid(applicationId)) problems.push({ field: 'applicationId', key: 'invalidGuid' });

  const senderEmail = text(config.senderEmail);
  if (!senderEmail) problems.push({ field: 'senderEmail', key: 'required' });
  else if (!isPlainAddress(senderEmail)) problems.push({ field: 'senderEmail', key: 'invalidAddress' });

  const cloudValue = text(config.cloud) || 'global';
  const cloud = isCloudName(cloudValue) ? cloudValue : undefined;
  if (!cloud) problems.push({ field: 'cloud', key: 'invalidCloud' });
  const endpoints = cloud ? endpointsFor(cloud, { loginUrl: text(config.loginUrl), graphUrl: text(config.graphUrl) }) : undefined;
  if (cloud === 'custom' && !endpoints) problems.push({ field: 'loginUrl', key: 'invalidCustomUrls' });

  const authValue = text(config.authMethod) || 'secret';
  const authMethod: AuthMethod | undefined = authValue === 'secret' || authValue === 'certificate' ? authValue : undefined;
  if (!authMethod) problems.push({ field: 'authMethod', key: 'invalidAuthMethod' });

  let clientSecret: string | undefined;
  let clientCertificate: ClientCertificate | undefined;
  if (authMethod === 'secret') {
    clientSecret = readCredential(credentials?.clientSecret, 'clientSecret', env, problems, true);
  } else if (authMethod === 'certificate') {
    const certificateText = readCredential(credentials?.certificate, 'certificate', env, problems, true);
    const keyText = readCredential(credentials?.certificatePrivateKey, 'certificatePrivateKey', env, problems, true);
    const passphrase = readCredential(credentials?.certificatePassphrase, 'certificatePassphrase', env, problems, false);
    if (certificateText && keyText) {
      const result = readClientCertificate(certificateText, keyText, passphrase);
      if ('certificate' in result) clientCertificate = result.certificate;
      else problems.push({ ...CERTIFICATE_PROBLEMS[result.problem], params: result.params });
    }
  }

  const proxy = readProxy(config.proxyUrl, problems);
  const proxyPassword = proxy ? readCredential(credentials?.proxyPassword, 'proxyPassword', env, problems, false) : undefined;
  const caBundle = readCaBundle(config.caBundle, problems);

  const queueSize = optionalInteger(config.queueSize, DEFAULT_QUEUE_SIZE);
  if (queueSize === undefined || queueSize < 1) problems.push({ field: 'queueSize', key: 'invalidNumber' });
  const maxRecipients = optionalInteger(config.maxRecipients, DEFAULT_MAX_RECIPIENTS);
  if (maxRecipients === undefined || maxRecipients < 1 || maxRecipients > EXCHANGE_MAX_RECIPIENTS) {
    problems.push({ field: 'maxRecipients', key: 'invalidNumber' });
  }
  // Exchange guards: off when empty.
  const maxMailsPerMinute = optionalPositive(config.maxMailsPerMinute, 'maxMailsPerMinute', problems);
  const maxRecipientsPerDay = optionalPositive(config.maxRecipientsPerDay, 'maxRecipientsPerDay', problems);
  const allowedRecipientDomains = text(config.allowedRecipientDomains)
    .split(/[,;\s]+/)
    .map((d) => d.trim().replace(/^@/, '').toLowerCase())
    .filter((d) => d.length > 0);
  const badDomain = allowedRecipientDomains.find((d) => !DOMAIN.test(d) && !/^[a-z0-9-]+$/.test(d));
  if (badDomain) problems.push({ field: 'allowedRecipientDomains', key: 'invalidDomain' });
  const allowedMailboxes = readMailboxList(config.allowedMailboxes, senderEmail, problems);

  const secretExpiresOn = text(config.secretExpiresOn);
  if (secretExpiresOn && !parseDay(secretExpiresOn)) problems.push({ field: 'secretExpiresOn', key: 'invalidDate' });

  const credentialReady = authMethod === 'certificate' ? Boolean(clientCertificate) : Boolean(clientSecret);
  if (problems.length || !cloud || !endpoints || !authMethod || !credentialReady || queueSize === undefined || maxRecipients === undefined) {
    return { problems };
  }
  return {
    problems,
    settings: {
      key,
      name: text(config.name),
      tenantId,
      applicationId,
      senderEmail,
      cloud,
      loginUrl: endpoints.loginUrl,
      graphUrl: endpoints.graphUrl,
      authMethod,
      clientSecret: clientSecret ?? '',
      ...(clientCertificate ? { clientCertificate } : {}),
      ...(proxy ? { proxyUrl: proxy } : {}),
      ...(proxyPassword ? { proxyPassword } : {}),
      ...(caBundle ? { caBundle } : {}),
      queueSize,
      allowedRecipientDomains,
      allowedMailboxes,
      maxRecipients,
      ...(maxMailsPerMinute !== undefined ? { maxMailsPerMinute } : {}),
      ...(maxRecipientsPerDay !== undefined ? { maxRecipientsPerDay } : {}),
      ...(secretExpiresOn ? { secretExpiresOn } : {}),
    },
  };
}

/**
 * The per-connection proxy: an http(s) URL with an optional user name. A password inside the URL
 * is refused: properties are exported with the flow, so it belongs in the proxyPassword credential.
 */
function readProxy(raw: unknown, problems: ConfigProblem[]): string | undefined {
  const value = text(raw);
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push({ field: 'proxyUrl', key: 'invalidProxyUrl' });
    return undefined;
  }
  if (url.password) {
    // The value itself is not echoed: it holds a password.
    problems.push({ field: 'proxyUrl', key: 'proxyPasswordInUrl' });
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    problems.push({ field: 'proxyUrl', key: 'invalidProxyUrl' });
    return undefined;
  }
  return `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}`;
}

/** Extra trusted CAs: one or more PEM certificates, each of which must parse. */
function readCaBundle(raw: unknown, problems: ConfigProblem[]): string[] | undefined {
  const value = text(raw);
  if (!value) return undefined;
  const certificates = readCertificates(value);
  if (!certificates?.length) {
    problems.push({ field: 'caBundle', key: 'invalidCaBundle' });
    return undefined;
  }
  return certificates.map((c) => c.pem);
}

/** The secrets a connection signs in with, once read: what the token provider and Graph client redact. */
export interface SignInSecrets {
  clientSecret?: string;
  clientCertificate?: { privateKey: string };
  proxyPassword?: string;
}

/** Every secret a connection holds, for redaction and for tests' leak scans. */
export function connectionSecrets(settings: SignInSecrets): string[] {
  return [settings.clientSecret, settings.clientCertificate?.privateKey, settings.proxyPassword].filter((s): s is string => Boolean(s));
}

/** At most this many other mailboxes per connection: the list is checked per message. */
export const MAX_ALLOWED_MAILBOXES = 1000;
/** RFC 5321's longest path (254) with room for what users paste; longer is refused unread. */
const MAX_MAILBOX_LENGTH = 320;

/**
 * `allowedMailboxes`: plain addresses split by `,` `;` or white space, lower-cased and without
 * duplicates or the sender itself. Capped before parsing, so a pasted megabyte costs one split.
 */
function readMailboxList(raw: unknown, senderEmail: string, problems: ConfigProblem[]): string[] {
  const value = text(raw);
  if (!value) return [];
  const entries = value.split(/[,;\s]+/).filter((entry) => entry.length > 0);
  if (entries.length > MAX_ALLOWED_MAILBOXES) {
    problems.push({ field: 'allowedMailboxes', key: 'tooManyMailboxes', params: { max: String(MAX_ALLOWED_MAILBOXES) } });
    return [];
  }
  const sender = senderEmail.toLowerCase();
  const out = new Set<string>();
  for (const entry of entries) {
    if (entry.length > MAX_MAILBOX_LENGTH || !isPlainAddress(entry)) {
      problems.push({ field: 'allowedMailboxes', key: 'invalidMailbox' });
      return [];
    }
    const address = entry.toLowerCase();
    if (address !== sender) out.add(address);
  }
  return [...out];
}

/**
 * The mailbox a flow may use through this connection, as configured (the sender keeps its own
 * spelling), or undefined when `address` is neither the sender nor in `allowedMailboxes`.
 */
export function permittedMailbox(settings: Pick<ConnectionSettings, 'senderEmail' | 'allowedMailboxes'>, address: string): string | undefined {
  const wanted = address.trim().toLowerCase();
  if (!wanted || wanted.length > MAX_MAILBOX_LENGTH) return undefined;
  if (wanted === settings.senderEmail.toLowerCase()) return settings.senderEmail;
  return settings.allowedMailboxes.includes(wanted) ? wanted : undefined;
}

function isPlainAddress(value: string): boolean {
  try {
    const parsed = parseAddress(value, 'senderEmail');
    return parsed.length === 1 && !parsed[0].name && parsed[0].address.toLowerCase() === value.toLowerCase();
  } catch {
    return false;
  }
}

/** '' and undefined → the default; a whole number → itself; anything else → undefined. */
function optionalInteger(value: unknown, fallback: number): number | undefined {
  const raw = text(value);
  if (raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) ? n : undefined;
}

/** '' and undefined → undefined (off); a whole number from 1 → itself; anything else is a problem. */
function optionalPositive(value: unknown, field: string, problems: ConfigProblem[]): number | undefined {
  const raw = text(value);
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    problems.push({ field, key: 'invalidNumber' });
    return undefined;
  }
  return n;
}

/**
 * An email task's properties as the editor saves its defaults: the one definition. The build writes
 * it into the node's editor (dist/nodes/email-task.html), the runtime reads a flow that leaves a
 * property out with it, and flows written in code (tests, benches, npm start) start from it.
 */
export const EMAIL_TASK_DEFAULTS = {
  authType: 'connection',
  to: 'to',
  toType: 'msg',
  cc: 'cc',
  ccType: 'msg',
  bcc: 'bcc',
  bccType: 'msg',
  replyTo: 'replyTo',
  replyToType: 'msg',
  subject: 'topic',
  subjectType: 'msg',
  body: 'payload',
  bodyType: 'msg',
  bodyFormat: 'auto',
  attachments: 'attachments',
  attachmentsType: 'msg',
  from: 'from',
  fromType: 'msg',
  action: 'send',
  messageId: 'mail.id',
  messageIdType: 'msg',
  connectionKey: 'connection',
  connectionKeyType: 'msg',
  importance: 'normal',
  saveToSentItems: true,
  maxAttempts: 5,
  maxWait: 300,
  timeout: 30,
  retryUnknownOutcome: false,
  returnMessageIds: false,
  onFailure: 'auto',
} as const satisfies Record<TypedField | `${TypedField}Type`, string> & Record<string, string | number | boolean>;

/** An email task's node properties as Node-RED hands them over (older or hand-written flows may lack any). */
export type RawTaskConfig = { [K in keyof typeof EMAIL_TASK_DEFAULTS]?: unknown };

/** Only these are Mustache templates when typed `str`; attachments are not text. */
const TEMPLATED: ReadonlySet<TypedField> = new Set(['to', 'cc', 'bcc', 'replyTo', 'subject', 'body']);

/** True when a typedInput field's `str` value is a Mustache template (attachments are not text). */
export function isTemplated(field: TypedField): boolean {
  return TEMPLATED.has(field);
}

/**
 * Whether a failure also goes to Catch nodes (done(err)), for a task whose output 2 is (or is not)
 * wired. It always leaves by output 2. Never silent: with output 2 unwired it reaches Catch nodes
 * and the log; `auto` shows it once, `both` also on a wired output 2.
 */
export function failureToCatch(onFailure: FailureRoute, outputWired: boolean): boolean {
  return onFailure === 'both' || !outputWired;
}

export function readTaskSettings(config: RawTaskConfig): TaskSettings {
  const defaults = EMAIL_TASK_DEFAULTS;
  const action: MailAction = MAIL_ACTIONS.includes(config.action as MailAction) ? (config.action as MailAction) : defaults.action;
  // Only what this task uses is evaluated per message: the message answered only for an answer,
  // the Key only when the connection is chosen by it.
  const used = TYPED_FIELDS.filter((field) => (field !== 'messageId' || action !== 'send') && (field !== 'connectionKey' || config.authType === 'connectionKey'));
  const inputs = used.map((field) => {
    const value = config[field];
    const type = config[`${field}Type`];
    // A flow that leaves the field out reads the documented msg property.
    if (value === undefined) return { field, value: defaults[field], type: 'msg' };
    return { field, value: String(value), type: typeof type === 'string' && type ? type : 'msg' };
  });
  const chosenFormat: BodyFormat = config.bodyFormat === 'text' || config.bodyFormat === 'html' ? config.bodyFormat : defaults.bodyFormat;
  // A fixed body (a `str` template) with `auto` is HTML or text by the template alone, decided
  // here once: message data rendered into a plain template must not turn the mail into HTML.
  const body = inputs.find((i) => i.field === 'body');
  const bodyFormat: BodyFormat = chosenFormat === 'auto' && body?.type === 'str' ? (looksLikeHtml(body.value) ? 'html' : 'text') : chosenFormat;
  const importance: Importance = config.importance === 'low' || config.importance === 'high' ? config.importance : defaults.importance;
  return {
    inputs,
    bodyFormat,
    importance,
    // Older flows and hand-written JSON may carry "false" as a string.
    saveToSentItems: config.saveToSentItems !== false && config.saveToSentItems !== 'false',
    maxAttempts: Math.floor(positive(config.maxAttempts, defaults.maxAttempts)),
    maxWaitMs: atLeastZero(config.maxWait, defaults.maxWait) * 1000,
    timeoutMs: positive(config.timeout, defaults.timeout) * 1000,
    retryUnknownOutcome: config.retryUnknownOutcome === true || config.retryUnknownOutcome === 'true',
    action,
    returnMessageIds: config.returnMessageIds === true || config.returnMessageIds === 'true',
    // Flows from before the choice existed get `auto`: a wired output 2 alone, else also Catch nodes.
    onFailure: FAILURE_ROUTES.find((route) => route === config.onFailure) ?? defaults.onFailure,
    configuredFields: new Set(inputs.filter((i) => config[i.field] !== undefined && (i.type === 'str' || i.type === 'env')).map((i) => i.field)),
  };
}

/** 0 is a real choice for a budget ("never wait"); only missing or nonsense values fall back. */
function atLeastZero(value: unknown, fallback: number): number {
  if (value === '' || value === undefined || value === null) return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

function positive(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
