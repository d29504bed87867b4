/**
 * One axios instance per connection on a keep-alive agent (an HttpPool) that Graph calls and MSAL
 * (through MsalNetworkClient) use alike; connections with the same network setup share one pool,
 * so a thousand connections reuse the same few TLS sockets. The agent carries the network setup: an outbound proxy (the connection's own,
 * or HTTPS_PROXY / NO_PROXY as Node-RED's http request node reads them) and extra trusted CAs.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import net from 'node:net';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { getProxyForUrl } from 'proxy-from-env';
import { isNotSentCode, type NetworkFailure } from './errors';

export interface HttpClient {
  readonly axios: AxiosInstance;
  /** `host:port` of the proxy a request to `url` goes through, or undefined when it goes direct. */
  proxyFor?(url: string): string | undefined;
  /** Aborts this client's requests in flight and gives its sockets back (ends them when they are its own); not used afterwards. */
  destroy(): void;
}

/** A connection's network settings (see ConnectionSettings). */
export interface NetworkOptions {
  /** `http(s)://[user@]host:port`; wins over the environment. */
  proxyUrl?: string;
  proxyPassword?: string;
  /** PEM certificates trusted in addition to Node's own roots. */
  caBundle?: readonly string[];
  /**
   * Cap on open sockets. The next mail's request can start before the previous answer's socket
   * is back in the pool (Node returns it after the response's end handlers ran) and would open a
   * new connection; with the cap it waits for that socket. Measured in bench/: 16 → 4 connections.
   */
  maxSockets?: number;
}

/** Idle sockets are closed by us before servers do, so a reused socket is rarely a dead one. */
const IDLE_TIMEOUT_MS = 30_000;

/**
 * Sockets per host of a pool shared by many connections. Each mailbox still has at most 4 requests
 * in flight (its limiter); the pool bounds the TLS connections all mailboxes use together. Measured
 * in bench/ (scale): 1,000 mailboxes sending at once over 16 sockets.
 */
export const SHARED_POOL_SOCKETS = 16;

/**
 * The sockets of one network setup (proxy, CA): Node's agent keeps a pool per host inside it, so
 * one HttpPool serves Graph, the upload host and the login host. Shared by every connection with
 * the same setup through the registry; destroyed by the last one (see Registry.pools).
 */
export interface HttpPool {
  readonly agent: https.Agent;
  /** One axios instance on the agent, shared by the pool's connections (see clientOn). */
  readonly axios: AxiosInstance;
  /**
   * Runs `start` once fewer than the pool's sockets-per-host requests to the URL's host are in
   * flight. Waiting here costs a closure; waiting in the agent's queue costs a whole request
   * (about 40 KB each with 1,000 mailboxes sending at once). `signal` drops a request still waiting.
   */
  whenFree<T>(url: string, signal: AbortSignal, start: () => Promise<T>): Promise<T>;
  /** `host:port` of the proxy a request to `url` goes through, or undefined when it goes direct. */
  proxyFor(url: string): string | undefined;
  /** Ends every socket and pending tunnel. */
  destroy(): void;
}

export function createHttpPool(network: NetworkOptions = {}): HttpPool {
  const secureContext = network.caBundle?.length ? trustContext(network.caBundle) : undefined;
  const route = proxyRoute(network);
  const options: https.AgentOptions = {
    keepAlive: true,
    timeout: IDLE_TIMEOUT_MS,
    ...(network.maxSockets ? { maxSockets: network.maxSockets } : {}),
    ...(secureContext ? { secureContext } : {}),
  };
  // No proxy anywhere: Node's own agent, nothing in the path.
  const agent = route ? new TunnellingAgent(route, options, secureContext) : new https.Agent(options);
  const instance = axios.create({
    httpsAgent: agent,
    // Graph answers sendMail with 202 and never redirects: skipping follow-redirects saves CPU.
    maxRedirects: 0,
    // Proxies are handled by the agent; axios' own env handling would break CONNECT for https.
    proxy: false,
    // Every status is an answer to classify, not an exception.
    validateStatus: () => true,
    // Error bodies are parsed by us; no size limit beyond Graph's own.
    maxContentLength: Infinity,
    maxBodyLength: Infinity,
  });
  const lanes = new HostLanes(network.maxSockets ?? Infinity);
  return {
    agent,
    axios: instance,
    whenFree: (url, signal, start) => lanes.run(url, signal, start),
    proxyFor: (url) => {
      if (!route) return undefined;
      try {
        const target = new URL(url);
        return route(target.hostname, Number(target.port) || 443)?.host;
      } catch {
        return undefined;
      }
    },
    destroy: () => agent.destroy(),
  };
}

/**
 * What makes two pools interchangeable: the proxy (with its password), the CA bundle, the socket
 * cap and the proxy environment as it is now (a changed HTTPS_PROXY gives a new pool). A hash, so
 * the proxy password is not held as a readable key.
 */
export function poolKey(network: NetworkOptions): string {
  const env = ENV_PROXY_NAMES.concat(['no_proxy', 'NO_PROXY']).map((name) => process.env[name] ?? '');
  return digest(['pool', network.proxyUrl ?? '', network.proxyPassword ?? '', ...(network.caBundle ?? []), String(network.maxSockets ?? ''), ...env]);
}

/** Registry keys are HMACs under a key of this process: a secret is never held as a readable (or guessable) key. */
const KEY_SECRET = randomBytes(32);

/** HMAC-SHA-256 over length-prefixed parts: no two different lists give the same input. */
export function digest(parts: readonly string[]): string {
  const hash = createHmac('sha256', KEY_SECRET);
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest('base64url');
}

/** A connection's own client on its own pool: destroy() ends the pool's sockets. */
export function createHttpClient(network: NetworkOptions = {}): HttpClient {
  const pool = createHttpPool(network);
  return clientOn(pool, () => pool.destroy());
}

/**
 * A connection's client on a pool it shares: the pool's axios instance seen through an object
 * whose request() adds the connection's abort signal to every request. destroy() aborts this
 * connection's requests only (others' requests on the same sockets go on) and hands the pool back
 * with `release`. Only request() carries the signal (our Graph and MSAL clients use nothing else);
 * a whole axios instance per connection cost 0.2 ms and several KB each, at 1,000 connections a
 * deploy's worth.
 */
export function clientOn(pool: HttpPool, release: () => void): HttpClient {
  const own = new AbortController();
  // Every request in flight listens on it; many at once is expected.
  setMaxListeners(0, own.signal);
  const shared = pool.axios;
  // A caller passes the same signal with every request (an email task's, a watcher's): combined
  // with ours once, not per request (AbortSignal.any was 3% of the email task's CPU per mail).
  const combinedWith = new WeakMap<AbortSignal, AbortSignal>();
  const combine = (signal: AbortSignal): AbortSignal => {
    let combined = combinedWith.get(signal);
    if (!combined) {
      combined = AbortSignal.any([signal, own.signal]);
      setMaxListeners(0, combined);
      combinedWith.set(signal, combined);
    }
    return combined;
  };
  const request: AxiosInstance['request'] = (config) => {
    const signal = config.signal as AbortSignal | undefined;
    const combined = signal ? combine(signal) : own.signal;
    return pool.whenFree(config.url ?? '', combined, () => shared.request({ ...config, signal: combined }));
  };
  const instance = Object.assign(Object.create(shared) as AxiosInstance, { request });
  let destroyed = false;
  return {
    axios: instance,
    proxyFor: (url) => pool.proxyFor(url),
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      own.abort();
      release();
    },
  };
}

/** Requests in flight per host, and those waiting for one to finish. */
class HostLanes {
  private readonly lanes = new Map<string, { active: number; waiting: Array<() => void> }>();

  constructor(private readonly perHost: number) {}

  run<T>(url: string, signal: AbortSignal, start: () => Promise<T>): Promise<T> {
    // Origin without parsing: what the agent pools by (scheme, host, port).
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    const host = slash < 0 ? url : url.slice(0, slash);
    let lane = this.lanes.get(host);
    if (!lane) {
      lane = { active: 0, waiting: [] };
      this.lanes.set(host, lane);
    }
    const held = lane;
    const go = (): Promise<T> => {
      held.active++;
      let promise: Promise<T>;
      try {
        promise = start();
      } catch (err) {
        promise = Promise.reject(err);
      }
      return promise.finally(() => this.done(host, held));
    };
    if (held.active < this.perHost) return go();
    if (signal.aborted) return Promise.reject(notStarted());
    return new Promise<T>((resolve, reject) => {
      const begin = (): void => {
        signal.removeEventListener('abort', onAbort);
        go().then(resolve, reject);
      };
      const onAbort = (): void => {
        const index = held.waiting.indexOf(begin);
        if (index >= 0) held.waiting.splice(index, 1);
        if (held.active === 0 && held.waiting.length === 0 && this.lanes.get(host) === held) this.lanes.delete(host);
        reject(notStarted());
      };
      held.waiting.push(begin);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private done(host: string, lane: { active: number; waiting: Array<() => void> }): void {
    lane.active--;
    const next = lane.waiting.shift();
    if (next) next();
    else if (lane.active === 0 && this.lanes.get(host) === lane) this.lanes.delete(host);
  }
}

/** A request aborted while it waited for the pool: nothing of it was sent. */
function notStarted(): AxiosError {
  const error = new AxiosError('aborted before it was sent', AxiosError.ERR_CANCELED);
  error.cause = tunnelError('aborted before it was sent', 'ERR_CANCELED');
  return error;
}

/** Which proxy (with its credentials) a connection to host:port uses; undefined: direct. */
type ProxyRoute = (host: string, port: number) => URL | undefined;

const ENV_PROXY_NAMES = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'];

/**
 * The connection's proxy wins over the environment (NO_PROXY included); otherwise the environment
 * decides per host with proxy-from-env, the rules Node-RED's own http request node follows.
 * Undefined when no proxy is configured at all.
 */
function proxyRoute(network: NetworkOptions): ProxyRoute | undefined {
  if (network.proxyUrl) {
    const proxy = new URL(network.proxyUrl);
    if (network.proxyPassword) proxy.password = encodeURIComponent(network.proxyPassword);
    return () => proxy;
  }
  if (!ENV_PROXY_NAMES.some((name) => process.env[name])) return undefined;
  return (host, port) => {
    const found = getProxyForUrl(`https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`);
    if (!found) return undefined;
    try {
      return new URL(found);
    } catch {
      // An unusable proxy setting must not turn into a silent direct connection.
      return new URL('invalid://proxy');
    }
  };
}

/**
 * Node's default trust (its bundled roots plus NODE_EXTRA_CA_CERTS) with the bundle added. Node
 * reads NODE_EXTRA_CA_CERTS only at start-up; a bundle here works without a restart.
 */
export function trustedCertificates(caBundle: readonly string[]): string[] {
  const getDefaults = (tls as { getCACertificates?: (type: 'default') => string[] }).getCACertificates;
  const defaults = getDefaults ? getDefaults('default') : [...tls.rootCertificates, ...extraCertificatesFromEnv()];
  return [...defaults, ...caBundle];
}

/** What NODE_EXTRA_CA_CERTS adds, for Node versions without tls.getCACertificates (< 22.15). */
function extraCertificatesFromEnv(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return fs.readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  } catch {
    return [];
  }
}

/** Built once per pool: every TLS connection of the agent shares it. */
function trustContext(caBundle: readonly string[]): tls.SecureContext {
  return tls.createSecureContext({ ca: trustedCertificates(caBundle) });
}

/** Set on errors raised while opening a tunnel: nothing of the request was sent yet. */
const TUNNEL_FAILURE = Symbol('tunnelFailure');

function tunnelError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code, [TUNNEL_FAILURE]: true });
}

/**
 * An https.Agent that reaches hosts through an HTTP CONNECT tunnel when the route says so. The
 * tunnel is opened in createConnection, so Node's own pool keeps the TLS socket inside it alive and
 * reuses it exactly as it does a direct one (one tunnel for many requests).
 */
class TunnellingAgent extends https.Agent {
  /** CONNECT requests still waiting for the proxy, ended by destroy(). */
  private readonly pending = new Set<http.ClientRequest>();

  constructor(
    private readonly route: ProxyRoute,
    options: https.AgentOptions,
    private readonly secureContext: tls.SecureContext | undefined,
  ) {
    super(options);
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port) || 443;
    const proxy = this.route(host, port);
    if (!proxy) return super.createConnection(options, callback);
    this.openTunnel(proxy, host, port).then(
      (socket) => {
        let secure: Duplex | null | undefined;
        try {
          secure = super.createConnection({ ...options, socket } as https.RequestOptions);
        } catch (err) {
          socket.destroy();
          callback?.(err as Error, undefined as unknown as Duplex);
          return;
        }
        if (secure) callback?.(null, secure);
      },
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  override destroy(): void {
    for (const request of this.pending) request.destroy();
    this.pending.clear();
    super.destroy();
  }

  private openTunnel(proxy: URL, host: string, port: number): Promise<net.Socket> {
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      return Promise.reject(tunnelError('proxy URL is not http or https', 'EPROXYURL'));
    }
    const target = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const headers: Record<string, string> = { host: target, 'proxy-connection': 'keep-alive', connection: 'keep-alive' };
    if (proxy.username || proxy.password) {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
    const request = (proxy.protocol === 'https:' ? https : http).request({
      method: 'CONNECT',
      host: proxyHost,
      port: Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80),
      path: target,
      headers,
      setHost: false,
      agent: false,
      timeout: IDLE_TIMEOUT_MS,
      ...(proxy.protocol === 'https:'
        ? { servername: net.isIP(proxyHost) ? undefined : proxyHost, ALPNProtocols: ['http/1.1'], ...(this.secureContext ? { secureContext: this.secureContext } : {}) }
        : {}),
    });
    this.pending.add(request);
    return new Promise((resolve, reject) => {
      request.once('connect', (response: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        this.pending.delete(request);
        request.removeAllListeners();
        request.on('error', () => undefined);
        // The CONNECT's own timeout must not linger on the tunnel: the agent times idle sockets.
        socket.setTimeout(0);
        if (response.statusCode !== 200) {
          socket.destroy();
          // 407: credentials missing or wrong; 403/502/503: the proxy would not or could not connect.
          reject(tunnelError(`proxy answered ${response.statusCode} to CONNECT`, `EPROXY${response.statusCode}`));
          return;
        }
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      request.once('timeout', () => request.destroy(tunnelError('proxy did not answer CONNECT', 'ETIMEDOUT')));
      request.once('error', (err: NodeJS.ErrnoException) => {
        this.pending.delete(request);
        request.removeAllListeners();
        request.on('error', () => undefined);
        reject(tunnelError('proxy unreachable', err.code ?? 'ENETWORK', err));
      });
      request.end();
    });
  }
}

/** Lower-case header map with string values (axios may give arrays or numbers). */
export function flatHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** Turns a thrown axios error into what we may keep of it: a code and whether the request may have arrived. */
export function transportFailure(err: unknown, url: string): NetworkFailure {
  let host = '';
  try {
    host = new URL(url).host;
  } catch {
    // keep empty
  }
  if (err instanceof AxiosError) {
    const cause = err.cause as (NodeJS.ErrnoException & { [TUNNEL_FAILURE]?: true }) | undefined;
    const code = (cause?.code || err.code || 'ENETWORK').toString();
    // axios reports its own timeout as ECONNABORTED (or ETIMEDOUT with clarifyTimeoutError).
    const normalised = code === 'ECONNABORTED' ? 'ETIMEDOUT' : code;
    // A tunnel that never opened carried nothing of the request.
    return { code: normalised, maybeSent: !cause?.[TUNNEL_FAILURE] && !isNotSentCode(normalised), host };
  }
  const error = err as (NodeJS.ErrnoException & { [TUNNEL_FAILURE]?: true }) | undefined;
  const code = error?.code ?? 'ENETWORK';
  return { code, maybeSent: !error?.[TUNNEL_FAILURE] && !isNotSentCode(code), host };
}

/** What went wrong on the last token-endpoint exchange, for classification after MSAL wraps it. */
export type TokenExchangeFailure =
  | { kind: 'network'; failure: NetworkFailure }
  | { kind: 'http'; status: number; retryAfter?: string; body: unknown };

/**
 * MSAL's network module on our axios instance. MSAL swallows the details of errors it did not
 * raise itself, so the last failure is kept here for TokenProvider to classify (token calls are
 * single-flight, so "last" is unambiguous).
 */
export class MsalNetworkClient implements INetworkModule {
  lastFailure?: TokenExchangeFailure;
  tokenRequests = 0;

  constructor(
    private readonly http: AxiosInstance,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    this.tokenRequests++;
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    let response: AxiosResponse<T>;
    try {
      response = await this.http.request<T>({
        method,
        url,
        headers: options?.headers,
        data: options?.body,
        timeout: this.timeoutMs,
      });
    } catch (err) {
      this.lastFailure = { kind: 'network', failure: transportFailure(err, url) };
      throw new Error('token endpoint unreachable');
    }
    const headers = flatHeaders(response.headers);
    if (response.status >= 400) {
      this.lastFailure = { kind: 'http', status: response.status, retryAfter: headers['retry-after'], body: response.data };
      // Handing MSAL a 429/5xx makes it refuse every call for a while without a request; our
      // caller decides about retries instead.
      if (response.status === 429 || response.status >= 500) throw new Error(`token endpoint answered ${response.status}`);
    }
    return { headers, body: response.data, status: response.status };
  }
}

/** Retry-After as seconds: either a number of seconds or an HTTP date. */
export function retryAfterSeconds(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
