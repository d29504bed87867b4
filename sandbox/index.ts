/**
 * The sandbox: a local stand-in for Entra ID's token endpoint and Graph mail over real HTTPS on
 * 127.0.0.1. Login and Graph share one base URL (`sandbox.url`), so a connection points at it with
 * `cloud: "custom"`, `loginUrl = graphUrl = sandbox.url`.
 *
 *   const sandbox = await startSandbox();          // port 0: an ephemeral port
 *   ... send mail ...
 *   expect(sandbox.mail(SANDBOX.senderEmail)).toHaveLength(1);
 *   await sandbox.close();
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CA_DIR, ensureCa, ensureClientCertificate, issueServerCert } from './ca';
import type { ClientCertificate } from './ca';
import { SANDBOX, defaultDirectory } from './config';
import type { SandboxDirectory } from './config';
import { handleControl } from './control';
import type { ControlApi } from './control';
import { Directory } from './directory';
import { DEFAULT_LIMITS, GraphMail, matchGraphRoute, matchUploadRoute } from './graph';
import type { GraphLimits, GraphRoute, UploadRoute } from './graph';
import type { InjectMail, MailboxMessage } from './graph-read';
import { defaultEntraError, defaultGraphCode, entraError, graphError, header, jsonReply, readBody } from './http';
import type { Reply, RequestContext } from './http';
import { TokenSigner } from './jwt';
import { graphSchema } from './schema';
import { SandboxState } from './state';
import type { BlockedMailbox, Fault, RecordedRequest, RequestTarget, SandboxStats, SentMail, TypedEmitter } from './state';
import { EntraEndpoints, entraErrorShape, entraHeaders, matchEntraRoute } from './token';
import type { EntraRoute } from './token';

export { SANDBOX, defaultDirectory } from './config';
export type { SandboxApp, SandboxDirectory, SandboxMailbox, SandboxSecret, SandboxTenant } from './config';
export type { BlockedMailbox, Fault, FaultAction, FaultTarget, RecordedRequest, SandboxEvents, SandboxStats, SentAttachment, SentMail, TypedEmitter } from './state';
export type { GraphLimits } from './graph';
export type { InjectMail, MailboxMessage } from './graph-read';
export { DEFAULT_LIMITS } from './graph';
export type { ClientCertificate } from './ca';
export { ensureCa } from './ca';

export interface SandboxOptions {
  /** 0 (default) picks an ephemeral port. */
  port?: number;
  /** Where the CA (and the client certificate) live; default `<repo>/.sandbox`. */
  caDir?: string;
  /** Added to every token and Graph request (after a concurrency slot is taken). */
  latencyMs?: number;
  /** Lifetime of issued access tokens; default 3599 s as Entra's. */
  tokenLifetimeSeconds?: number;
  /** Tenants, apps and mailboxes; default defaultDirectory(). */
  directory?: SandboxDirectory;
  /** Graph's limits, overridable so a test can reach them with small bodies. */
  limits?: Partial<GraphLimits>;
  /**
   * Host name for upload URLs (`localhost`; the certificate covers it and 127.0.0.1): real upload
   * URLs are on the Outlook host, not the Graph host, which a proxy sees as a second host.
   * Default: the sandbox's own URL.
   */
  uploadHost?: string;
  /**
   * Speak HTTP/2 as well (ALPN `h2`; HTTP/1.1 clients are still served), as Microsoft Graph does:
   * "Microsoft Graph supports HTTP/2" (https://learn.microsoft.com/graph/best-practices-concept).
   * For measuring one multiplexed session per host against the HTTP/1.1 pool.
   */
  http2?: boolean;
}

export interface Sandbox {
  /** `https://127.0.0.1:<port>`: the login base URL and the Graph base URL both. */
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly caPath: string;
  /** Registered on SANDBOX.certificateApplicationId for certificate (client assertion) sign-in. */
  readonly clientCertificate: ClientCertificate;
  /** `request` (arrived), `request-done` (logged), `mail` (recorded): wait on these, not on timers. */
  readonly events: TypedEmitter;
  /** Mail each mailbox sent, in order; all mailboxes when none is named (address or id). */
  mail(mailbox?: string): SentMail[];
  /** Resolves once `count` mails were sent (by `mailbox`, if named); rejects if the sandbox closes first. */
  waitForMail(count: number, mailbox?: string): Promise<SentMail[]>;
  stats(): SandboxStats;
  /** TCP connections open now (TLS or not, any client): a closed client leaves none behind. */
  openConnections(): number;
  /** Resolves once at most `count` connections are open (the `connection-closed` event drives it). */
  waitForOpenConnections(count: number): Promise<void>;
  issuedTokens(): string[];
  requests(): RecordedRequest[];
  /** Drafts and upload sessions still open. */
  openItems(): { drafts: number; uploadSessions: number };
  addFault(fault: Fault): void;
  clearFaults(): void;
  /**
   * Blocks a mailbox from sending as Exchange does past its daily recipient limit: sendMail and
   * send answer Graph's error (default 403 ErrorMessageSubmissionBlocked) until unblocked or reset.
   */
  blockMailbox(mailbox: string, block?: Partial<BlockedMailbox>): void;
  /** Lifts the block of one mailbox, or of all. */
  unblockMailbox(mailbox?: string): void;
  setLatency(ms: number): void;
  setTokenLifetime(seconds: number): void;
  /**
   * Revokes every access token issued since the last reset (Graph then answers 401 InvalidAuthenticationToken),
   * and with `next` also that many of the tokens issued from now on.
   */
  revokeTokens(options?: { next?: number }): void;
  /** Changes an app's consented roles (an admin granting or removing a permission); new tokens carry them. */
  setAppRoles(applicationId: string, roles: string[]): void;
  /** Puts a mail from outside into a mailbox's folder (default Inbox); throws on a bad input. */
  injectMail(mailbox: string, mail: InjectMail): MailboxMessage;
  /** A mailbox's folders with their counts. */
  mailFolders(mailbox: string): { id: string; displayName: string; wellKnownName?: string; parentFolderId: string; totalItemCount: number; unreadItemCount: number }[];
  /** A mailbox's messages, of one folder (id, well-known name or path such as `Inbox/Orders`) or all. */
  messages(mailbox: string, folder?: string): MailboxMessage[];
  /** Forgets every delta token of a mailbox: their next use answers 410 SyncStateNotFound. */
  expireDeltaTokens(mailbox: string): void;
  /** Clears mail, drafts, counters, the request log, issued tokens and faults. */
  reset(): void;
  /** Stops listening and ends every socket: keep-alive, hung and half-open ones. */
  close(): Promise<void>;
}

/** Timers that close() can cut short, so nothing keeps Jest's event loop alive. */
class Sleeper {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();
  closed = false;

  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, ms);
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    this.closed = true;
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve();
    }
    this.pending.clear();
  }
}

type Route =
  | { target: 'control' }
  | { target: 'token' | 'oidc'; entra: EntraRoute }
  | { target: 'graph'; graph: GraphRoute }
  | { target: 'upload'; upload: UploadRoute }
  | { target: 'other' };

function classify(path: string): Route {
  if (path === '/_sandbox' || path.startsWith('/_sandbox/')) return { target: 'control' };
  const entra = matchEntraRoute(path);
  if (entra) return { target: entra.kind === 'token' ? 'token' : 'oidc', entra };
  const graph = matchGraphRoute(path);
  if (graph) return { target: 'graph', graph };
  const upload = matchUploadRoute(path);
  if (upload) return { target: 'upload', upload };
  return { target: 'other' };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const caDir = options.caDir ?? DEFAULT_CA_DIR;
  const ca = ensureCa(caDir);
  const leaf = issueServerCert(ca);
  const clientCertificate = ensureClientCertificate(ca, caDir);
  const data = options.directory ?? defaultDirectory();
  for (const tenant of data.tenants) {
    for (const app of tenant.apps) {
      if (app.applicationId === SANDBOX.certificateApplicationId && app.certificates === undefined) {
        app.certificates = [clientCertificate.certPem];
      }
    }
  }
  const directory = new Directory(data);
  const state = new SandboxState();
  const signer = new TokenSigner(ca);
  const limits: GraphLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const sleeper = new Sleeper();
  let latencyMs = options.latencyMs ?? 0;
  let tokenLifetime = options.tokenLifetimeSeconds ?? 3599;
  let baseUrl = '';

  const entra = new EntraEndpoints({
    baseUrl: () => baseUrl,
    directory,
    signer,
    state,
    tokenLifetimeSeconds: () => tokenLifetime,
  });
  const uploadBaseUrl = (): string => (options.uploadHost ? `https://${options.uploadHost}:${new URL(baseUrl).port}` : baseUrl);
  const graph = new GraphMail({ baseUrl: () => baseUrl, uploadBaseUrl, directory, signer, state, schema: graphSchema(), limits });

  const control: ControlApi = {
    mail: (mailbox) => mailOf(mailbox),
    stats: () => state.stats(),
    requests: () => [...state.requestLog],
    faults: () => state.faults.map(({ remaining, ...f }) => ({ ...f, times: remaining })),
    addFault: (f) => state.addFault(f),
    clearFaults: () => {
      state.faults = [];
    },
    blocked: () => Object.fromEntries(state.blocked),
    blockMailbox: (mailbox, block) => {
      const address = (directory.anyMailbox(mailbox)?.address ?? mailbox).toLowerCase();
      state.blocked.set(address, { code: block?.code ?? 'ErrorMessageSubmissionBlocked', status: block?.status, retryAfter: block?.retryAfter });
    },
    unblockMailbox: (mailbox) => {
      if (mailbox === undefined) state.blocked.clear();
      else state.blocked.delete((directory.anyMailbox(mailbox)?.address ?? mailbox).toLowerCase());
    },
    reset: () => {
      state.reset();
      graph.reset();
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    revokeTokens: (next) => state.revokeTokens(next),
    setAppRoles: (applicationId, roles) => {
      const app = data.tenants.flatMap((t) => t.apps).find((a) => a.applicationId.toLowerCase() === applicationId.toLowerCase());
      if (!app) return false;
      app.roles = [...roles];
      return true;
    },
    injectMail: (mailbox, mail) => {
      const box = directory.anyMailbox(mailbox);
      if (!box) return `no sandbox mailbox ${mailbox}`;
      const stored = graph.read.inject(box.address, mail);
      if (typeof stored === 'string') return stored;
      return (graph.read.listMessages(box.address) as MailboxMessage[]).find((m) => m.immutableId === stored.immutableId) as MailboxMessage;
    },
    folders: (mailbox) => {
      const box = directory.anyMailbox(mailbox);
      return box ? graph.read.store.summary(box.address) : `no sandbox mailbox ${mailbox}`;
    },
    messages: (mailbox, folder) => {
      const box = directory.anyMailbox(mailbox);
      return box ? graph.read.listMessages(box.address, folder) : `no sandbox mailbox ${mailbox}`;
    },
    expireDeltaTokens: (mailbox) => {
      const box = directory.anyMailbox(mailbox);
      return box ? graph.read.store.expireDeltaTokens(box.address) : `no sandbox mailbox ${mailbox}`;
    },
    info: () => ({
      url: baseUrl,
      tenantId: data.tenants[0]?.tenantId ?? '',
      tenantDomain: data.tenants[0]?.domains[0] ?? '',
      applicationId: data.tenants[0]?.apps[0]?.applicationId ?? '',
      senderEmail: data.tenants[0]?.mailboxes[0]?.address ?? '',
    }),
  };

  function mailOf(mailbox?: string): SentMail[] {
    if (mailbox === undefined) return [...state.mails];
    const resolved = directory.anyMailbox(mailbox);
    const key = (resolved?.address ?? mailbox).toLowerCase();
    return state.mails.filter((m) => m.sender.toLowerCase() === key);
  }

  /** The answer a `respond` fault gives: Graph's error JSON, or Entra's for the token endpoint. */
  function faultReply(fault: Fault, ctx: RequestContext, target: 'token' | 'graph' | 'upload'): Reply {
    const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
    if (target === 'token') {
      // 90033 is Entra's "transient error, try again". A code Entra's catalogue knows comes with
      // Entra's own status, error and text unless the fault says otherwise.
      const aadsts = fault.aadsts ?? 90033;
      const form = new URLSearchParams(ctx.body.toString('utf8'));
      const tenant = ctx.path.split('/')[1];
      const shape = entraErrorShape(aadsts, { app: form.get('client_id') ?? undefined, tenant, resource: form.get('scope')?.replace(/\/\.default$/, '') });
      const status = fault.status ?? (fault.aadsts !== undefined ? shape?.status : undefined) ?? 503;
      const error = fault.code ?? shape?.error ?? defaultEntraError(status);
      return entraError(ctx, baseUrl, status, error, aadsts, fault.message ?? shape?.description ?? 'A transient error has occurred. Please try again.', headers);
    }
    const status = fault.status ?? 503;
    return graphError(ctx, status, fault.code ?? defaultGraphCode(status), fault.message ?? `Sandbox fault: HTTP ${status}.`, headers);
  }

  function write(res: ServerResponse, reply: Reply, extra: Record<string, string>): void {
    if (res.destroyed || res.headersSent) return;
    const body = reply.body ?? '';
    res.writeHead(reply.status, { ...extra, ...reply.headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';
    const route = classify(path);
    const limit = route.target === 'upload' ? limits.maxUploadChunkBytes : limits.maxRequestBytes;
    const { body, length } = await readBody(req, limit);

    if (route.target === 'control') {
      handleControl(control, req, res, path, query, body);
      return;
    }
    if (route.target === 'other') {
      if (path === '/' && method === 'GET') {
        write(res, { status: 302, headers: { location: '/_sandbox/' } }, {});
      } else {
        write(res, jsonReply(404, { error: { code: 'NotFound', message: `The sandbox has no route ${method} ${path}.` } }), {});
      }
      return;
    }

    const target: RequestTarget = route.target;
    if (target === 'token') state.count('tokenRequests');
    if (target === 'graph' || target === 'upload') state.count('graphRequests');

    const closers: (() => void)[] = [];
    const ctx: RequestContext = {
      method,
      path,
      query,
      headers: req.headers,
      body,
      bodyLength: length,
      requestId: randomUUID(),
      clientRequestId: header(req.headers, 'client-request-id'),
      onClose: (fn) => closers.push(fn),
      latency: () => sleeper.sleep(latencyMs),
    };
    // Filled in as the request goes; read when the response closes.
    const log: { outcome?: RecordedRequest['outcome']; errorCode?: string } = {};
    res.on('close', () => {
      for (const fn of closers) fn();
      state.recordRequest({
        method,
        path,
        target,
        status: res.headersSent ? res.statusCode : 0,
        outcome: log.outcome ?? (res.writableFinished ? 'answered' : 'aborted'),
        clientRequestId: ctx.clientRequestId,
        requestId: ctx.requestId,
        errorCode: log.errorCode,
        bodyBytes: length,
        time: new Date(),
      });
    });
    state.events.emit('request', { method, path, target });

    // Entra names its request id x-ms-request-id; Graph calls it request-id.
    const common =
      target === 'token' || target === 'oidc'
        ? entraHeaders(ctx)
        : { 'request-id': ctx.requestId, 'client-request-id': ctx.clientRequestId ?? ctx.requestId, 'cache-control': 'no-cache' };

    let fault: Fault | undefined;
    if (target === 'token') fault = state.takeFault('token', []);
    else if (route.target === 'graph') {
      const g = route.graph;
      const keys = 'mailboxKey' in g ? graph.mailboxKeys(g.mailboxKey) : [];
      fault = state.takeFault(g.kind === 'sendMail' ? 'sendMail' : 'graph', keys);
    } else if (route.target === 'upload') fault = state.takeFault('upload', graph.uploadMailboxKeys(route.upload.sessionId));

    const action = fault?.action ?? 'respond';
    if (fault?.delayMs) await sleeper.sleep(fault.delayMs);
    if (fault && action === 'reset-before') {
      log.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault && action === 'hang') {
      // Never answered: the socket stays open until the client gives up or close() ends it.
      log.outcome = 'hung';
      return;
    }

    let reply: Reply;
    if (fault && action === 'respond') {
      reply = faultReply(fault, ctx, target === 'token' ? 'token' : target === 'upload' ? 'upload' : 'graph');
    } else {
      try {
        if ('entra' in route) {
          await ctx.latency();
          reply = entra.handle(route.entra, ctx);
        } else if (route.target === 'graph') {
          reply = await graph.handle(route.graph, ctx);
        } else {
          reply = await graph.upload(route.upload, ctx);
        }
      } catch (err) {
        // A sandbox bug should read as a Graph 500, not hang the client.
        reply = graphError(ctx, 500, 'InternalServerError', `Sandbox error: ${(err as Error).message}`);
      }
    }
    log.errorCode = reply.errorCode;
    if (fault && action === 'reset-after') {
      // The work is done (mail recorded) but the answer is lost: the client cannot know.
      log.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    write(res, reply, common);
  }

  const server = options.http2
    ? // The compatibility API hands the same (req, res) shape to the handler for h2 and HTTP/1.1.
      (http2.createSecureServer({ key: leaf.keyPem, cert: leaf.certPem, allowHTTP1: true }) as unknown as https.Server)
    : https.createServer({
        key: leaf.keyPem,
        cert: leaf.certPem,
        // Clients keep connections in their pool without an idle limit; a long server-side idle
        // timeout keeps the race (server closes as client reuses) rare.
        keepAliveTimeout: 120_000,
        // Hung requests must stay hung until close() or the client's own timeout.
        requestTimeout: 0,
      });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      state.events.emit('connection-closed', sockets.size);
    });
  });
  server.on('secureConnection', () => state.count('tlsConnections'));
  // A client that drops the connection mid-request is normal here (faults, timeouts).
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', () => undefined);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://127.0.0.1:${port}`;

  let closing: Promise<void> | undefined;
  const closeWaiters = new Set<(err: Error) => void>();

  return {
    url: baseUrl,
    port,
    caPem: ca.caPem,
    caPath: ca.caPath,
    clientCertificate,
    events: state.events,
    mail: mailOf,
    waitForMail(count, mailbox) {
      return new Promise<SentMail[]>((resolve, reject) => {
        const check = (): boolean => {
          const mails = mailOf(mailbox);
          if (mails.length < count) return false;
          state.events.off('mail', onMail);
          closeWaiters.delete(onClose);
          resolve(mails);
          return true;
        };
        const onMail = (): void => void check();
        const onClose = (err: Error): void => {
          state.events.off('mail', onMail);
          reject(err);
        };
        if (closing) return reject(new Error('The sandbox is closed.'));
        if (check()) return;
        state.events.on('mail', onMail);
        closeWaiters.add(onClose);
      });
    },
    stats: () => state.stats(),
    openConnections: () => sockets.size,
    waitForOpenConnections(count) {
      return new Promise<void>((resolve) => {
        const check = (): void => {
          if (sockets.size > count) return;
          state.events.off('connection-closed', check);
          resolve();
        };
        state.events.on('connection-closed', check);
        check();
      });
    },
    issuedTokens: () => [...state.tokens],
    requests: () => [...state.requestLog],
    openItems: () => graph.openItems(),
    addFault: (f) => state.addFault(f),
    clearFaults: control.clearFaults,
    blockMailbox: control.blockMailbox,
    unblockMailbox: control.unblockMailbox,
    setLatency: control.setLatency,
    revokeTokens: (options) => control.revokeTokens(options?.next ?? 0),
    setAppRoles(applicationId, roles) {
      if (!control.setAppRoles(applicationId, roles)) throw new Error(`No app ${applicationId} in the sandbox directory.`);
    },
    setTokenLifetime(seconds) {
      tokenLifetime = seconds;
    },
    injectMail: (mailbox, mail) => orThrow(control.injectMail(mailbox, mail)),
    mailFolders: (mailbox) => orThrow(control.folders(mailbox)) as ReturnType<Sandbox['mailFolders']>,
    messages: (mailbox, folder) => orThrow(control.messages(mailbox, folder)),
    expireDeltaTokens(mailbox) {
      orThrow(control.expireDeltaTokens(mailbox));
    },
    reset: control.reset,
    close() {
      closing ??= new Promise<void>((resolve) => {
        sleeper.cancelAll();
        for (const reject of closeWaiters) reject(new Error('The sandbox closed before the mail arrived.'));
        closeWaiters.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** The control surface answers a refusal as its text (what HTTP callers get); in code it is thrown. */
function orThrow<T>(result: T | string): T {
  if (typeof result === 'string') throw new Error(result);
  return result;
}
