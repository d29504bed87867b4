/**
 * Config node `office365-mail-connection`: reads its settings and secret once, owns the
 * ConnectionRuntime (MSAL, axios, Mailer) shared by every email task that uses it, and serves the
 * admin endpoints (Test connection, usage data).
 */
import path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import type { NextFunction, Request, Response } from 'express';
import { ConnectionRuntime, sendTestMail, testConnection, type ConnectionTestResult } from './lib/connection';
import { credentialExpiry, watchExpiry } from './lib/expiry';
import { MailError, internalError, reportedIds, type ReportedIds } from './lib/errors';
import type { ConnectionSettings, NodeRef } from './lib/types';
import { Registry } from './lib/registry';
import { CREDENTIAL_NAMES, destinationChanges, destinationOf, isEnvReference, readConnectionSettings, type ConnectionCredentials, type CredentialName, type RawConnectionConfig } from './lib/settings';
import { closeGraceMs, envLookup, indexConnection, type ConnectionNode } from './node-red-runtime';
import { UsageRecorder } from './lib/usage-recorder';
import { USAGE_FILE, UsageStore } from './lib/usage-store';
import { detailsOf, errorKeys, errorText, problemKeys, problemText } from './texts';
import { USAGE_TOPIC, UsageFeed, usageReport } from './usage-report';

type ConnectionDef = NodeDef & RawConnectionConfig;

/**
 * Plain properties the Test connection endpoint reads from the editor's unsaved values: every tab's,
 * so a problem anywhere is named and the test mail obeys the limits being edited.
 */
const TEST_FIELDS = [
  'key', 'name', 'tenantId', 'applicationId', 'senderEmail', 'cloud', 'loginUrl', 'graphUrl', 'authMethod', 'proxyUrl', 'caBundle', 'secretExpiresOn',
  'queueSize', 'allowedRecipientDomains', 'allowedMailboxes', 'maxRecipients', 'maxMailsPerMinute', 'maxRecipientsPerDay',
] as const;

/** The editor sends this instead of a password it did not change. */
const UNCHANGED_PASSWORD = '__PWRD__';

/** Full keys of the connection's catalogue, for the editor to render (see texts.ts EditorText). */
const CONNECTION_NS = 'node-red-contrib-office365-mail/office365-mail-connection:office365-mail-connection';

export = function register(RED: NodeAPI): void {
  const connections = new Set<ConnectionNode>();
  // One per runtime: what Graph and Exchange limit per app and mailbox holds across every
  // connection node (one per flow tab is common), not per node.
  const registry = new Registry();
  // Usage data by Key in the user directory, so a redeploy or restart keeps the evidence.
  const userDir = (RED.settings as { userDir?: unknown }).userDir;
  const store = new UsageStore({
    file: typeof userDir === 'string' && userDir ? path.join(userDir, USAGE_FILE) : undefined,
    warn: (key, params) => RED.log.warn(RED._(`office365-mail-connection.usageStore.${key}`, params)),
  });
  // Open editors (the Usage Data sidebar) hear that something changed and fetch GET /usage: the
  // report is built only when an editor asks (not for every change of 1,000 connections while
  // nobody watches), and only for users the endpoint's permission lets read it (comms reaches all).
  const feed = new UsageFeed((data) => RED.comms.publish(USAGE_TOPIC, data, false), () => ({ changed: new Date().toISOString() }));
  store.on('changed', () => feed.changed());
  /** Connections whose close has begun and not finished (mail in flight still ending). */
  let closing = 0;

  function ConnectionNodeConstructor(this: ConnectionNode, config: ConnectionDef): void {
    RED.nodes.createNode(this, config);
    this.key = typeof config.key === 'string' ? config.key : '';
    this.destination = destinationOf(config);
    const { settings, problems } = readConnectionSettings(config, this.credentials, envLookup(RED, this));
    this.problems = problems;
    // Without a Key (an old or half-made node) the counts live only as long as this node.
    if (this.key) store.attach(this.key, { name: config.name ?? '', senderEmail: settings?.senderEmail ?? '' });
    if (settings) {
      // MSAL's own log lines (PII off, secrets redacted) go to debug: every failure that matters
      // already reaches the user, classified, through the email task.
      this.runtime = new ConnectionRuntime(
        settings,
        (level, message) => this.debug(`MSAL ${level}: ${message}`),
        () => feed.changed(),
        registry,
        this.key ? new UsageRecorder(store, this.key) : undefined,
      );
      // From 30 days before the secret (or certificate) expires: a warning in the log once a day.
      const runtimeSettings = settings;
      this.stopExpiryWatch = watchExpiry(
        () => credentialExpiry(runtimeSettings),
        (expiry) => this.warn(RED._(`office365-mail-connection.expiry.${expiry.days > 0 ? 'warning' : 'expired'}`, { key: this.key, date: expiry.date, count: expiry.days })),
      );
    } else {
      for (const problem of problems) this.error(problemText(RED._, problem));
    }
    connections.add(this);
    feed.changed();
    // Keys are unique: email tasks choosing by Key refuse a Key two deployed connections share, and
    // the log says so (the second of the two to start reports it).
    const indexed = indexConnection(this);
    if (indexed.others > 0) this.error(RED._('office365-mail-connection.deploy.duplicateKey', { key: this.key.trim() }));

    this.on('close', (_removed: boolean, done: () => void) => {
      connections.delete(this);
      indexed.remove();
      this.stopExpiryWatch?.();
      // Marked removed; a redeploy attaches the key again as the new node starts.
      if (this.key) store.detach(this.key);
      if (connections.size === 0) feed.flush();
      else feed.changed();
      const runtime = this.runtime;
      this.runtime = undefined;
      // Mail in flight is counted as it ends; then the file is written at once (a stop may follow),
      // by the last of the connections closing together only (each flush writes every key: a
      // redeploy of 1,000 connections wrote the file 1,000 times, 7.9 s, bench:scale).
      closing++;
      const finish = (): void => {
        closing--;
        if (connections.size === 0 && closing === 0) store.flush();
        done();
      };
      if (!runtime) return finish();
      runtime.close(closeGraceMs(RED)).then(finish, finish);
    });
  }

  RED.nodes.registerType<ConnectionNode, ConnectionDef, unknown, ConnectionCredentials>('office365-mail-connection', ConnectionNodeConstructor, {
    // Every credential is a secret: none is ever sent to the editor.
    credentials: Object.fromEntries(CREDENTIAL_NAMES.map((name) => [name, { type: 'password' as const }])),
  });

  RED.httpAdmin.get('/office365-mail/usage', RED.auth.needsPermission('office365-mail-connection.read'), (req: Request, res: Response) => {
    const key = req.query.key;
    if (key === undefined) {
      res.json(usageReport(RED, connections, store));
      return;
    }
    oneKey(typeof key === 'string' ? key : '', res);
  });

  RED.httpAdmin.get('/office365-mail/usage/:key', RED.auth.needsPermission('office365-mail-connection.read'), (req: Request, res: Response) => {
    oneKey(String(req.params.key), res);
  });

  /** One key's usage data, in the same shape; 404 with an empty list when no connection or history has it. */
  function oneKey(key: string, res: Response): void {
    // An empty Key names nothing (connections without one are listed only in the full report).
    const report = key ? usageReport(RED, connections, store, key) : { connections: [] };
    res.status(report.connections.length ? 200 : 404).json(report);
  }

  /** Test connection's refusals, in the connection's catalogue. */
  const t = (key: string, params?: Record<string, string>): string => RED._(`office365-mail-connection.test.refused.${key}`, params);
  const labels = (fields: readonly string[]): string => fields.map((f) => RED._(`office365-mail-connection.label.${f}`)).join(', ');

  /**
   * JSON only, before anything else: Node-RED's admin API also parses form bodies, and a form on
   * any web page can post those cross-site (a JSON request needs CORS, which the admin API refuses).
   */
  function jsonOnly(req: Request, res: Response, next: NextFunction): void {
    if (req.is('application/json')) return next();
    res.status(415).json({ ok: false, error: { category: 'validation', code: 'UnsupportedMediaType', message: t('jsonOnly'), hint: '' } });
  }

  // Clearing destroys evidence: the same permission as changing a connection.
  RED.httpAdmin.post('/office365-mail/usage/clear', jsonOnly, RED.auth.needsPermission('office365-mail-connection.write'), (req: Request, res: Response) => {
    const body: unknown = req.body;
    const key = typeof body === 'object' && body !== null && typeof (body as { key?: unknown }).key === 'string' ? (body as { key: string }).key : '';
    if (!key) {
      res.status(400).json({ ok: false, error: { category: 'validation', code: 'KeyRequired', message: RED._('office365-mail-connection.usageStore.keyRequired') } });
      return;
    }
    const cleared = store.clear(key);
    res.status(cleared ? 200 : 404).json({ ok: cleared });
  });

  RED.httpAdmin.post(
    '/office365-mail/connections/test',
    jsonOnly,
    RED.auth.needsPermission('office365-mail-connection.write'),
    (req: Request, res: Response) => {
      const body: Record<string, unknown> = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
      // Only a deployed connection has stored credentials, and only its own.
      const node = typeof body.id === 'string' ? RED.nodes.getNode(body.id) : null;
      const deployed = node?.type === 'office365-mail-connection' ? (node as ConnectionNode) : undefined;
      // Plain fields as typed: `${NAME}` is not looked up here (Node-RED does that on deploy).
      const raw: RawConnectionConfig = {};
      for (const field of TEST_FIELDS) raw[field] = body[field];
      const changed = deployed ? destinationChanges(deployed.destination, destinationOf(raw)) : [];
      const ownDestination = deployed !== undefined && changed.length === 0;

      // The editor never holds stored credentials: one it sends empty or unchanged is taken from
      // the deployed node, as Node-RED does on deploy, but only toward that node's own endpoints.
      const stored = deployed ? (RED.nodes.getCredentials(deployed.id) as ConnectionCredentials | undefined) : undefined;
      const used = credentialsUsed(raw);
      const credentials: ConnectionCredentials = {};
      const fromStore: string[] = [];
      const envTyped: string[] = [];
      for (const name of CREDENTIAL_NAMES) {
        const sent = typeof body[name] === 'string' ? (body[name] as string) : '';
        if (sent && sent !== UNCHANGED_PASSWORD) {
          credentials[name] = sent;
          if (isEnvReference(sent) && used.includes(name)) envTyped.push(name);
        } else if (stored?.[name] && used.includes(name)) {
          credentials[name] = stored[name];
          fromStore.push(name);
        }
      }
      if (!ownDestination && (fromStore.length || envTyped.length)) {
        const reason = fromStore.length ? 'stored' : deployed ? 'envChanged' : 'envNotDeployed';
        const refusedFields = fromStore.length ? fromStore : envTyped;
        const params = { credentials: labels(refusedFields), changed: labels(changed) };
        // A validation result, not a failed request: 200, so the browser logs no error.
        res.json({
          ok: false,
          error: {
            category: 'validation',
            code: 'CredentialNotForThisDestination',
            message: t(reason, params),
            hint: t('retype', params),
            details: null,
            messageKey: `${CONNECTION_NS}.test.refused.${reason}`,
            hintKey: `${CONNECTION_NS}.test.refused.retype`,
            noteKey: null,
            params: {},
            // Parameters that are lists of fields: the editor joins their labels in its language.
            labelParams: { credentials: refusedFields, changed },
            fields: refusedFields,
          },
        });
        return;
      }
      const env = ownDestination ? envLookup(RED, deployed) : () => undefined;
      const { settings, problems } = readConnectionSettings(raw, credentials, env);
      if (!settings) {
        res.json({ ok: false, error: { category: 'validation', code: 'InvalidConnection', problems: problems.map((p) => ({ text: problemText(RED._, p), ...problemKeys(p) })) } });
        return;
      }
      const sendTo = typeof body.sendTo === 'string' ? body.sendTo.trim() : '';
      const source = { id: typeof body.id === 'string' ? body.id : '', type: 'office365-mail-connection', name: RED._('office365-mail-connection.test.button') };
      runTest(settings, sendTo, source).then((result) => res.json(result));
    },
  );

  /** Token test, then (with sendTo, and only when the token came) the test mail; never rejects. */
  async function runTest(settings: ConnectionSettings, sendTo: string, source: NodeRef): Promise<TestAnswer> {
    let result: ConnectionTestResult;
    try {
      result = await testConnection(settings);
    } catch (err) {
      return { ok: false, error: failureAnswer(err) };
    }
    if (!sendTo) return result;
    const text = { subject: RED._('office365-mail-connection.testMail.subject'), body: RED._('office365-mail-connection.testMail.body', { key: settings.key || source.id }) };
    try {
      const sent = await sendTestMail(settings, sendTo, text, registry, source);
      return { ...result, testMail: { ok: true, to: sent.to, sender: sent.sender, requestId: sent.requestId, clientRequestId: sent.clientRequestId, sentAt: sent.sentAt } };
    } catch (err) {
      return { ...result, testMail: { ok: false, error: failureAnswer(err) } };
    }
  }

  /** A classified failure as the editor renders it: keys and parameters, texts, Microsoft's details, ids. */
  function failureAnswer(err: unknown): FailureAnswer {
    // lib rejects with MailError only; anything else is our bug, reported without its text.
    const error = err instanceof MailError ? err : internalError();
    return { ...errorText(RED._, error), ...errorKeys(error), details: detailsOf(error), category: error.category, code: error.code, ...reportedIds(error) };
  }
};

type FailureAnswer = ReturnType<typeof errorText> & ReturnType<typeof errorKeys> & ReportedIds & { details: string | null; category: string; code: string };

/** What Test connection answers: the token's facts (and the test mail's outcome), or the failure. */
type TestAnswer =
  | (ConnectionTestResult & { testMail?: { ok: true; to: string[]; sender: string; requestId: string; clientRequestId: string; sentAt: string } | { ok: false; error: FailureAnswer } })
  | { ok: false; error: FailureAnswer };

/** The credentials a connection with these fields signs in (and reaches its proxy) with. */
function credentialsUsed(raw: RawConnectionConfig): CredentialName[] {
  const method = typeof raw.authMethod === 'string' && raw.authMethod.trim() === 'certificate' ? 'certificate' : 'secret';
  const names: CredentialName[] = method === 'certificate' ? ['certificate', 'certificatePrivateKey', 'certificatePassphrase'] : ['clientSecret'];
  if (typeof raw.proxyUrl === 'string' && raw.proxyUrl.trim()) names.push('proxyPassword');
  return names;
}
