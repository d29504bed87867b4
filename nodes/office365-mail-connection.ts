/**
 * Config node `office365-mail-connection`: reads its settings and secret once, owns the
 * ConnectionRuntime (MSAL, axios, Mailer) shared by every email task that uses it, and serves the
 * admin endpoints (Test connection, usage data).
 */
import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { ConnectionRuntime, testConnection } from './lib/connection';
import type { MailError } from './lib/errors';
import { readConnectionSettings, type RawConnectionConfig } from './lib/settings';
import { errorText, problemText, type ConnectionCredentials, type ConnectionNode } from './shared';
import { USAGE_TOPIC, UsageFeed, watchMailer } from './usage-feed';

type ConnectionDef = NodeDef & RawConnectionConfig;

/** The editor sends this instead of a password it did not change. */
const UNCHANGED_PASSWORD = '__PWRD__';

export = function register(RED: NodeAPI): void {
  const connections = new Set<ConnectionNode>();
  // Open editors (the Usage Data sidebar) hear of every change without polling.
  const feed = new UsageFeed((data) => RED.comms.publish(USAGE_TOPIC, data, false), () => usageData());

  function ConnectionNodeConstructor(this: ConnectionNode, config: ConnectionDef): void {
    RED.nodes.createNode(this, config);
    this.key = typeof config.key === 'string' ? config.key : '';
    const env = (name: string): string | undefined => {
      const value: unknown = RED.util.evaluateNodeProperty(name, 'env', this, {});
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    const { settings, problems } = readConnectionSettings(config, this.credentials, env);
    this.problems = problems;
    if (settings) {
      // MSAL's own log lines (PII off, secrets redacted) go to debug: every failure that matters
      // already reaches the user, classified, through the email task.
      this.runtime = new ConnectionRuntime(settings, (level, message) => this.debug(`MSAL ${level}: ${message}`));
      watchMailer(this.runtime.mailer, () => feed.changed());
    } else {
      for (const problem of problems) this.error(problemText(RED._, problem));
    }
    connections.add(this);
    feed.changed();

    this.on('close', (_removed: boolean, done: () => void) => {
      connections.delete(this);
      if (connections.size === 0) feed.flush();
      else feed.changed();
      const runtime = this.runtime;
      this.runtime = undefined;
      if (!runtime) return done();
      runtime.close().then(done, done);
    });
  }

  RED.nodes.registerType<ConnectionNode, ConnectionDef, unknown, ConnectionCredentials>('office365-mail-connection', ConnectionNodeConstructor, {
    credentials: { clientSecret: { type: 'password' } },
  });

  function usageData(): { connections: unknown[] } {
    const list = [...connections].map((node) => {
      const snapshot = node.runtime?.mailer.snapshot();
      return {
        id: node.id,
        key: node.key,
        name: node.name ?? '',
        senderEmail: node.runtime?.settings.senderEmail ?? '',
        valid: Boolean(node.runtime),
        problems: node.problems.map((p) => problemText(RED._, p)),
        ...snapshot,
        recentFailures: (snapshot?.recentFailures ?? []).map((f) => ({ ...f, ...errorText(RED._, f) })),
      };
    });
    return { connections: list };
  }

  RED.httpAdmin.get('/office365-mail/usage', RED.auth.needsPermission('office365-mail-connection.read'), (_req: Request, res: Response) => {
    res.json(usageData());
  });

  RED.httpAdmin.post(
    '/office365-mail/connections/test',
    RED.auth.needsPermission('office365-mail-connection.write'),
    (req: Request, res: Response) => {
      const body = (req.body ?? {}) as RawConnectionConfig & { id?: unknown; clientSecret?: unknown };
      let clientSecret = typeof body.clientSecret === 'string' ? body.clientSecret : '';
      if ((!clientSecret || clientSecret === UNCHANGED_PASSWORD) && typeof body.id === 'string') {
        // The editor never holds the stored secret: use the deployed node's credential.
        const stored = RED.nodes.getCredentials(body.id) as ConnectionCredentials | undefined;
        clientSecret = stored?.clientSecret ?? '';
      }
      // Unsaved values are not substituted by Node-RED yet: resolve `${NAME}` here as it would.
      const substitute = (value: unknown): unknown =>
        typeof value === 'string' ? value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => process.env[name] ?? m) : value;
      const raw: RawConnectionConfig = {};
      for (const field of ['key', 'name', 'tenantId', 'applicationId', 'senderEmail', 'cloud', 'loginUrl', 'graphUrl'] as const) {
        raw[field] = substitute(body[field]);
      }
      const { settings, problems } = readConnectionSettings(raw, { clientSecret }, (name) => process.env[name] || undefined);
      if (!settings) {
        res.status(400).json({ ok: false, error: { category: 'validation', problems: problems.map((p) => problemText(RED._, p)) } });
        return;
      }
      testConnection(settings).then(
        (result) => res.json(result),
        // testConnection rejects with MailError only.
        (error: MailError) => {
          res.json({
            ok: false,
            error: {
              ...errorText(RED._, error),
              category: error.category,
              code: error.code,
              aadsts: error.aadsts ?? null,
              status: error.status ?? null,
              requestId: error.requestId ?? null,
            },
          });
        },
      );
    },
  );
};
