/**
 * A local Node-RED for `npm start` and the e2e tests: its settings, the process, and the package's
 * example flow with its connection pointed at the sandbox.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SANDBOX } from '../sandbox/config';

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export const EXAMPLE_FILE = path.join(__dirname, '..', 'examples', 'send-from-http-endpoint.json');

/**
 * An email task's properties as the editor saves its defaults (docs/configuration.md: To `msg.to`,
 * Subject `msg.topic`, Body `msg.payload` ...), for flows written in code (tests, benches).
 */
export const EMAIL_TASK_DEFAULTS: Readonly<Record<string, unknown>> = {
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
  attachments: 'attachments',
  attachmentsType: 'msg',
  bodyFormat: 'auto',
  importance: 'normal',
  saveToSentItems: true,
};

/** A connection's properties (and credentials, as the admin API takes them) for the sandbox at `sandboxUrl`. */
export function sandboxConnectionFields(sandboxUrl: string, clientSecret: string = SANDBOX.clientSecret): Record<string, unknown> {
  return {
    key: 'sandbox',
    name: 'Sandbox (local Microsoft 365 stand-in)',
    tenantId: SANDBOX.tenantId,
    applicationId: SANDBOX.applicationId,
    senderEmail: SANDBOX.senderEmail,
    cloud: 'custom',
    loginUrl: sandboxUrl,
    graphUrl: sandboxUrl,
    credentials: { clientSecret },
  };
}

export function sandboxExampleFlow(sandboxUrl: string, clientSecret: string = SANDBOX.clientSecret): FlowNode[] {
  const flow = JSON.parse(fs.readFileSync(EXAMPLE_FILE, 'utf8')) as FlowNode[];
  return flow.map((n) => (n.type === 'office365-mail-connection' ? { ...n, ...sandboxConnectionFields(sandboxUrl, clientSecret) } : n));
}

/**
 * Points the saved flows' sandbox connections (key `sandbox`, on 127.0.0.1) at the sandbox running
 * now: its port may differ from the last start (SANDBOX_PORT). Returns how many were changed.
 */
export function pointSandboxConnectionsAt(flowsFile: string, sandboxUrl: string): number {
  if (!fs.existsSync(flowsFile)) return 0;
  const flows = JSON.parse(fs.readFileSync(flowsFile, 'utf8')) as FlowNode[];
  let changed = 0;
  for (const n of flows) {
    const local = (url: unknown): boolean => typeof url === 'string' && url.startsWith('https://127.0.0.1:');
    if (n.type !== 'office365-mail-connection' || n.key !== 'sandbox' || !local(n.loginUrl) || n.loginUrl === sandboxUrl) continue;
    n.loginUrl = sandboxUrl;
    if (local(n.graphUrl)) n.graphUrl = sandboxUrl;
    changed++;
  }
  if (changed) fs.writeFileSync(flowsFile, JSON.stringify(flows, null, 4));
  return changed;
}

/** The path of the example's `http in` node. */
export function endpointPath(flow: FlowNode[]): string {
  const httpIn = flow.find((n) => n.type === 'http in');
  return String(httpIn?.url ?? '/send-mail');
}

export interface LocalSettings {
  port: number;
  credentialSecret: string;
  logLevel?: 'info' | 'debug';
}

/** Settings for a loopback-only Node-RED without the first-run dialogs (telemetry, tours). */
export function writeSettings(userDir: string, settings: LocalSettings): string {
  const file = path.join(userDir, 'settings.js');
  const content = {
    uiPort: settings.port,
    uiHost: '127.0.0.1',
    flowFile: 'flows.json',
    credentialSecret: settings.credentialSecret,
    telemetry: { enabled: false },
    editorTheme: { tours: false },
    logging: { console: { level: settings.logLevel ?? 'info' } },
  };
  fs.writeFileSync(file, `module.exports = ${JSON.stringify(content, null, 2)};\n`);
  return file;
}

/**
 * Node-RED on the user dir; stdout and stderr are piped. By default this project's devDependency
 * on this Node; `NODE_RED_JS` and `NODE_RED_NODE` pick another (Node-RED 5 on Node 22).
 */
export function spawnNodeRed(userDir: string, env: NodeJS.ProcessEnv): ChildProcess {
  const node = process.env.NODE_RED_NODE || process.execPath;
  const redJs = process.env.NODE_RED_JS || require.resolve('node-red/red.js');
  return spawn(node, [redJs, '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
