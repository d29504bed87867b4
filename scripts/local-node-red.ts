/**
 * A local Node-RED for `npm start` and the e2e tests: its settings, the process, and the package's
 * example flow with its connection pointed at the sandbox.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SANDBOX } from '../sandbox/config';
import { MAIL_IN_DEFAULTS } from '../nodes/lib/mail-in';

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export const EXAMPLE_FILE = path.join(__dirname, '..', 'examples', 'send-from-http-endpoint.json');

/** An email task's properties as the editor saves its defaults, for flows written in code (tests, benches). */
export { EMAIL_TASK_DEFAULTS } from '../nodes/lib/settings';

/** A connection's properties (and credentials, as the admin API takes them) for the sandbox at `sandboxUrl`. */
export function sandboxConnectionFields(sandboxUrl: string, clientSecret: string = SANDBOX.clientSecret): Record<string, unknown> {
  return {
    key: 'sandbox',
    name: 'Sandbox',
    tenantId: SANDBOX.tenantId,
    applicationId: SANDBOX.applicationId,
    senderEmail: SANDBOX.senderEmail,
    cloud: 'custom',
    loginUrl: sandboxUrl,
    graphUrl: sandboxUrl,
    credentials: { clientSecret },
  };
}

/**
 * The id every example's email task names as its connection. The examples carry no connection of
 * their own: imported into a Node-RED that has a connection with this id (the one `npm start` sets
 * up) they use it; anywhere else the task asks the user to pick or add one, as it should.
 */
export const EXAMPLE_CONNECTION_ID = 'office365-example-connection';

/**
 * What `npm start` deploys on a first run: the sandbox connection under the examples' connection id,
 * and the HTTP endpoint example under ids of its own, so importing any example beside it (that one
 * included) adds nodes instead of reporting that they already exist.
 */
export function sandboxStartFlow(sandboxUrl: string, clientSecret: string = SANDBOX.clientSecret): FlowNode[] {
  const example = JSON.parse(fs.readFileSync(EXAMPLE_FILE, 'utf8')) as FlowNode[];
  const ids = new Map(example.map((n) => [n.id, `start-${n.id}`]));
  const renamed = example.map((n): FlowNode => {
    const node: FlowNode = { ...n, id: ids.get(n.id) as string };
    if (typeof n.z === 'string') node.z = ids.get(n.z) ?? n.z;
    if (Array.isArray(n.wires)) node.wires = (n.wires as string[][]).map((port) => port.map((target) => ids.get(target) ?? target));
    return node;
  });
  const connection: FlowNode = { id: EXAMPLE_CONNECTION_ID, type: 'office365-mail-connection', ...sandboxConnectionFields(sandboxUrl, clientSecret) };
  return [...renamed, connection];
}

/**
 * The receiving half of the loop under `npm start` (beside the start flow, on its tab): an "email
 * in" node on the sandbox sender's Inbox (polled every 10 s) and a debug node, so a mail sent to
 * the sender (or injected from outside) shows in the debug sidebar.
 */
export function mailInLoop(startFlow: FlowNode[]): FlowNode[] {
  const tab = startFlow.find((n) => n.type === 'tab')?.id ?? '';
  return [
    {
      id: 'start-mail-in',
      type: 'office365-mail-in',
      z: tab,
      name: 'Sandbox inbox',
      connection: EXAMPLE_CONNECTION_ID,
      ...MAIL_IN_DEFAULTS,
      pollInterval: 10,
      x: 150,
      y: 340,
      wires: [['start-mail-in-debug']],
    },
    { id: 'start-mail-in-debug', type: 'debug', z: tab, name: 'new mail', active: true, tosidebar: true, console: false, complete: 'true', targetType: 'full', x: 360, y: 340, wires: [] },
  ];
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
export function spawnNodeRed(userDir: string, env: NodeJS.ProcessEnv, options: { exitWithParent?: boolean } = {}): ChildProcess {
  const node = process.env.NODE_RED_NODE || process.execPath;
  const redJs = process.env.NODE_RED_JS || require.resolve('node-red/red.js');
  // With exitWithParent, Node-RED's stdin is a pipe from us and the preload stops it when the pipe
  // closes: a parent killed outright (SIGKILL) leaves no Node-RED behind on its port.
  const preload = options.exitWithParent ? ['--require', path.join(__dirname, 'node-red-preload.cjs')] : [];
  return spawn(node, [...preload, redJs, '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
    env,
    stdio: [options.exitWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** True when something already listens on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

/** What to tell a user whose port is taken: which, why that may be, how to choose others. */
export function portInUseText(variable: string, port: number): string {
  return [
    `Port ${port} is already in use (${variable}): is npm start, Node-RED or the sandbox already running?`,
    'Stop it, or choose free ports, e.g. NODE_RED_PORT=1881 SANDBOX_PORT=8444 npm start',
    'Nothing was started or changed.',
  ].join('\n');
}

/**
 * Makes `<userDir>/node_modules/<package>` a relative link to the checkout, as `npm install <path>`
 * would: a relative link survives moving or renaming the checkout, and a stale link is replaced.
 */
export function linkPackage(userDir: string, packageRoot: string): void {
  const modules = path.join(userDir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  const link = path.join(modules, 'node-red-contrib-office365-mail');
  const target = path.relative(modules, packageRoot);
  const existing = fs.lstatSync(link, { throwIfNoEntry: false });
  if (existing?.isSymbolicLink()) {
    if (fs.readlinkSync(link) === target) return;
    fs.unlinkSync(link);
  } else if (existing) {
    // A real folder (an installed copy) is the user's: leave it.
    return;
  }
  fs.symlinkSync(target, link, 'dir');
}

/** SIGINT, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGINT');
  });
}
