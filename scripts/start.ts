/**
 * `npm start`: the sandbox (a local Microsoft 365 stand-in) and a local Node-RED with this package
 * and the example flow, so a newcomer sends a mail within a minute without a tenant.
 *
 * Runs as one process (package.json `exec`s node with tsx's hook, no tsx CLI in between), so a
 * supervisor's SIGTERM or SIGINT reaches it and it takes Node-RED and the sandbox down with it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSandbox } from '../sandbox';
import { SANDBOX } from '../sandbox/config';
import {
  endpointPath,
  linkPackage,
  mailInLoop,
  pointSandboxConnectionsAt,
  portInUse,
  portInUseText,
  sandboxStartFlow,
  spawnNodeRed,
  stopChild,
  writeSettings,
} from './local-node-red';

const root = path.join(__dirname, '..');
// NODE_RED_USER_DIR: another user dir (the npm start test uses a temporary one).
const userDir = process.env.NODE_RED_USER_DIR || path.join(root, '.node-red');
const port = Number(process.env.NODE_RED_PORT || 1880);
const sandboxPort = Number(process.env.SANDBOX_PORT || 8443);
/** How long Node-RED gets to stop on SIGINT before it is killed. */
const STOP_GRACE_MS = 5000;

async function main(): Promise<void> {
  // Ports first: a start that cannot run must not touch the files of the instance that holds them.
  for (const [name, p] of [['NODE_RED_PORT', port], ['SANDBOX_PORT', sandboxPort]] as const) {
    if (await portInUse(p)) throw new Error(portInUseText(name, p));
  }
  const sandbox = await startSandbox({ port: sandboxPort });

  // Node-RED finds the package in its user dir's node_modules, as after `npm install`.
  linkPackage(userDir, root);
  const flowsFile = path.join(userDir, 'flows.json');
  const startFlow = sandboxStartFlow(sandbox.url);
  const flow = [...startFlow, ...mailInLoop(startFlow)];
  const firstRun = !fs.existsSync(flowsFile);
  // A later start may run the sandbox on another port: the saved sandbox connection follows it.
  if (pointSandboxConnectionsAt(flowsFile, sandbox.url)) process.stdout.write(`The sandbox connection now points at ${sandbox.url}.\n`);
  writeSettings(userDir, { port, credentialSecret: 'local-development-only' });
  // Node reads extra CAs only at start: this is how the sandbox's throwaway CA is trusted.
  const nodeRed = spawnNodeRed(userDir, { ...process.env, NODE_EXTRA_CA_CERTS: sandbox.caPath }, { exitWithParent: true });
  nodeRed.stderr?.pipe(process.stderr);
  const base = `http://127.0.0.1:${port}`;
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
    const ca = path.relative(root, sandbox.caPath);
    const curl = `curl -X POST ${base}${endpointPath(flow)} -H 'content-type: application/json' -d '{"to":"ada@example.com","subject":"Hello","body":"Hi from Node-RED"}'`;
    process.stdout.write(
      [
        '',
        '──────────────────────────────────────────────────────────────',
        ` Node-RED editor:   ${base}  (flow "Send mail from an HTTP endpoint")`,
        ` Send a mail:       ${curl}`,
        ` See it arrive:     ${sandbox.url}/_sandbox/  (trust ${ca}, or:`,
        `                    curl --cacert ${ca} ${sandbox.url}/_sandbox/mail)`,
        '',
        ' The sandbox connection ("Sandbox", key "sandbox"), to fill in a new one by hand:',
        `   cloud: custom, login URL and Graph URL ${sandbox.url}`,
        `   tenant ${SANDBOX.tenantId}   application (client) ID ${SANDBOX.applicationId}`,
        `   client secret ${SANDBOX.clientSecret}   sender ${SANDBOX.senderEmail}`,
        ' The sandbox keeps its mail in memory: it is gone when npm start stops.',
        '',
        ` Stop with Ctrl+C.  Your flows stay in .node-red/ (delete it to start afresh).`,
        '──────────────────────────────────────────────────────────────',
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    void stopChild(nodeRed, STOP_GRACE_MS)
      .then(() => sandbox.close())
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop(130));
  process.on('SIGTERM', () => stop(143));
  process.on('SIGHUP', () => stop(129));
  // Node-RED ending by itself (a crash, or port taken after all) ends the start too.
  nodeRed.on('exit', (code) => stop(code ?? 1));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
