/**
 * `npm start`: the sandbox (a local Microsoft 365 stand-in) and a local Node-RED with this package
 * and the example flow, so a newcomer sends a mail within a minute without a tenant.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSandbox } from '../sandbox';
import { ensureCa } from '../sandbox/ca';
import { endpointPath, pointSandboxConnectionsAt, sandboxExampleFlow, spawnNodeRed, writeSettings } from './local-node-red';

const root = path.join(__dirname, '..');
const userDir = path.join(root, '.node-red');
const port = Number(process.env.NODE_RED_PORT || 1880);
const sandboxPort = Number(process.env.SANDBOX_PORT || 8443);

async function main(): Promise<void> {
  const ca = ensureCa();
  const sandbox = await startSandbox({ port: sandboxPort });

  // Node-RED finds the package in its user dir's node_modules, as after `npm install`.
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = path.join(userDir, 'node_modules', 'node-red-contrib-office365-mail');
  if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
  const flowsFile = path.join(userDir, 'flows.json');
  const firstRun = !fs.existsSync(flowsFile);
  // A later start may run the sandbox on another port: the saved sandbox connection follows it.
  if (pointSandboxConnectionsAt(flowsFile, sandbox.url)) process.stdout.write(`The sandbox connection now points at ${sandbox.url}.\n`);
  writeSettings(userDir, { port, credentialSecret: 'local-development-only' });
  // Node reads extra CAs only at start: this is how the sandbox's throwaway CA is trusted.
  const nodeRed = spawnNodeRed(userDir, { ...process.env, NODE_EXTRA_CA_CERTS: ca.caPath });
  nodeRed.stderr?.pipe(process.stderr);
  const base = `http://127.0.0.1:${port}`;
  const flow = sandboxExampleFlow(sandbox.url);
  let started = false;
  nodeRed.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!started && chunk.toString().includes('Server now running')) {
      started = true;
      void ready();
    }
  });

  async function ready(): Promise<void> {
    if (firstRun) {
      const res = await fetch(`${base}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(flow),
      });
      if (!res.ok) process.stderr.write(`Deploying the example flow failed: ${res.status}\n`);
    }
    const curl = `curl -X POST ${base}${endpointPath(flow)} -H 'content-type: application/json' -d '{"to":"ada@example.com","subject":"Hello","body":"Hi from Node-RED"}'`;
    process.stdout.write(
      [
        '',
        '──────────────────────────────────────────────────────────────',
        ` Node-RED editor:   ${base}  (flow "Send mail from an HTTP endpoint")`,
        ` Send a mail:       ${curl}`,
        ` See it arrive:     ${sandbox.url}/_sandbox/  (trust ${path.relative(root, ca.caPath)}, or:`,
        `                    curl --cacert ${path.relative(root, ca.caPath)} ${sandbox.url}/_sandbox/mail)`,
        ` Stop with Ctrl+C.  Your flows stay in .node-red/ (delete it to start afresh).`,
        '──────────────────────────────────────────────────────────────',
        '',
      ].join('\n'),
    );
  }

  const stop = (): void => {
    nodeRed.kill('SIGINT');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  nodeRed.on('exit', (code) => {
    void sandbox.close().then(() => process.exit(code ?? 0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
