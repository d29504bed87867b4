/**
 * A real forward proxy for tests: answers HTTP CONNECT on 127.0.0.1, records every tunnel it was
 * asked for, can require Basic Proxy-Authorization, and pipes bytes both ways (it never sees inside
 * the TLS it carries). Only loopback targets are tunnelled.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ConnectRecord {
  /** `host:port` as asked in the CONNECT line. */
  target: string;
  /** What the proxy answered: 200, 407 (credentials), 403 (target not allowed), 502 (target unreachable). */
  status: number;
  /** Whether a Proxy-Authorization header came with it (its value is not kept). */
  hadCredentials: boolean;
}

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>` (`https://` with the tls option) */
  readonly url: string;
  readonly port: number;
  /** Every CONNECT in order. */
  readonly connects: ConnectRecord[];
  /** Tunnels that were opened (status 200). */
  tunnels(): ConnectRecord[];
  /** Emits `connect` with each ConnectRecord once answered. */
  readonly events: EventEmitter;
  close(): Promise<void>;
}

export interface ConnectProxyOptions {
  /** When set, CONNECT without these Basic credentials is answered 407. */
  credentials?: { user: string; password: string };
  /** Serve the proxy itself over TLS (an `https://` proxy URL) with this key and certificate. */
  tls?: { key: string; cert: string };
}

export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const connects: ConnectRecord[] = [];
  const events = new EventEmitter();
  const sockets = new Set<net.Socket>();
  const expected = options.credentials ? `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.password}`).toString('base64')}` : undefined;

  // Plain-HTTP forwarding is not what our nodes use: only CONNECT is served.
  const refuse = (_req: http.IncomingMessage, res: http.ServerResponse): void => void res.writeHead(405, { allow: 'CONNECT' }).end();
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, refuse) : http.createServer(refuse);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    const auth = req.headers['proxy-authorization'];
    const record: ConnectRecord = { target, status: 0, hadCredentials: auth !== undefined };
    const answer = (status: number, text: string, extra = ''): void => {
      record.status = status;
      connects.push(record);
      events.emit('connect', record);
      client.end(`HTTP/1.1 ${status} ${text}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    client.on('error', () => undefined);
    if (expected !== undefined && auth !== expected) {
      answer(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="test proxy"\r\n');
      return;
    }
    const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
    const host = match?.[1].replace(/^\[|\]$/g, '');
    if (!match || !host || !['127.0.0.1', '::1', 'localhost'].includes(host)) {
      answer(403, 'Forbidden');
      return;
    }
    const upstream = net.connect(Number(match[2]), host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.once('error', () => {
      if (record.status === 0) answer(502, 'Bad Gateway');
      else client.destroy();
    });
    upstream.once('connect', () => {
      record.status = 200;
      connects.push(record);
      events.emit('connect', record);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    connects,
    tunnels: () => connects.filter((c) => c.status === 200),
    events,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
