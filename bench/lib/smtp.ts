/**
 * A local SMTP server for node-red-node-email: plaintext on loopback, no AUTH, no STARTTLS, no
 * reverse DNS (all of which flatter SMTP). It counts connections and accepted mails.
 * smtp-server holds every new connection 100 ms before its greeting (its early-talker check, not
 * configurable), so the e-mail node's flow keeps more mails in flight (BENCH_SMTP_WINDOW) to
 * measure the node rather than that wait.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface LocalSmtp {
  readonly port: number;
  stats(): { connections: number; mails: number };
  reset(): void;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<LocalSmtp> {
  let connections = 0;
  let mails = 0;
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        mails++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    stats: () => ({ connections, mails }),
    reset: () => {
      connections = 0;
      mails = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
