/**
 * `npx tsx sandbox/cli.ts ca`             make (or reuse) the throwaway CA, print its path
 * `npx tsx sandbox/cli.ts start [--port N]` run the sandbox until Ctrl-C (default port 8443,
 *                                          SANDBOX_PORT overrides the default, --port both)
 */
import path from 'node:path';
import { DEFAULT_CA_DIR, ensureCa } from './ca';
import { SANDBOX } from './config';
import { startSandbox } from './index';

const DEFAULT_PORT = 8443;

function usage(): never {
  console.error('usage: tsx sandbox/cli.ts ca | start [--port N]');
  process.exit(2);
}

function portFrom(args: string[]): number {
  const i = args.indexOf('--port');
  const raw = i >= 0 ? args[i + 1] : process.env.SANDBOX_PORT;
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Not a port: ${raw}`);
    process.exit(2);
  }
  return port;
}

async function start(args: string[]): Promise<void> {
  const sandbox = await startSandbox({ port: portFrom(args) });
  const relCa = path.relative(process.cwd(), sandbox.caPath) || sandbox.caPath;
  console.log(`Office 365 Mail sandbox listening on ${sandbox.url}`);
  console.log('');
  console.log('Connection settings (cloud: custom):');
  console.log(`  login URL / Graph URL  ${sandbox.url}`);
  console.log(`  tenant                 ${SANDBOX.tenantId}  (or ${SANDBOX.tenantDomain})`);
  console.log(`  application (client)   ${SANDBOX.applicationId}`);
  console.log(`  client secret          ${SANDBOX.clientSecret}`);
  console.log(`  sender                 ${SANDBOX.senderEmail}`);
  console.log(`  certificate app        ${SANDBOX.certificateApplicationId}  (cert ${sandbox.clientCertificate.certPath})`);
  console.log('');
  console.log(`Clients trust it with NODE_EXTRA_CA_CERTS=${relCa}`);
  console.log(`Sent mail shows up at ${sandbox.url}/_sandbox/ (JSON: /_sandbox/mail, /_sandbox/stats)`);
  console.log('Ctrl-C to stop.');

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'ca': {
      const ca = ensureCa(DEFAULT_CA_DIR);
      console.log(ca.caPath);
      return;
    }
    case 'start':
      return start(args);
    default:
      usage();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
