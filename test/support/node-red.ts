/** Loads the built nodes into node-red-node-test-helper with a sandbox connection. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import { SANDBOX } from '../../sandbox/config';
import { EMAIL_TASK_DEFAULTS, EXAMPLE_CONNECTION_ID, sandboxStartFlow } from '../../scripts/local-node-red';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox';

/**
 * The runtime under test: this project's Node-RED, or the one whose red.js NODE_RED_JS names (CI
 * runs the node tests again on Node-RED 5 under Node 22 that way).
 */
const runtimePath = process.env.NODE_RED_JS ? path.join(path.dirname(process.env.NODE_RED_JS), 'lib', 'red.js') : require.resolve('node-red');
helper.init(runtimePath);

const dist = path.join(__dirname, '..', '..', 'dist', 'nodes');
/* eslint-disable @typescript-eslint/no-require-imports -- the built CommonJS nodes, as Node-RED loads them */
export const connectionNode = require(path.join(dist, 'office365-mail-connection.js'));
export const emailTaskNode = require(path.join(dist, 'email-task.js'));
export const catchNode = require(require.resolve('@node-red/nodes/core/common/25-catch.js', { paths: [path.dirname(runtimePath)] }));
/* eslint-enable @typescript-eslint/no-require-imports */

export { helper };

type DeployType = 'full' | 'flows' | 'nodes';
interface HelperInternals {
  _events: NodeJS.EventEmitter;
  _redNodes: { setFlows(flow: unknown, credentials: unknown, type: DeployType): Promise<unknown> };
}

/** The event bus of the runtime the helper loaded (Node-RED 4.1 or 5), on which RED.comms.publish travels as "comms". */
export function runtimeEvents(): NodeJS.EventEmitter {
  return (helper as unknown as HelperInternals)._events;
}

/**
 * A redeploy, as helper.setFlows does, waiting for 'flows:started' for as long as the runtime takes.
 * helper.setFlows gives it 300 ms and listens only once setFlows has returned: a redeploy that
 * cancels queued mail on a loaded CI machine took longer and failed with "timeout waiting event".
 */
export async function redeploy(flow: unknown[], type: DeployType, credentials: Record<string, unknown> = {}): Promise<void> {
  const internals = helper as unknown as HelperInternals;
  const started = new Promise<void>((resolve) => internals._events.once('flows:started', () => resolve()));
  await internals._redNodes.setFlows(flow, credentials, type);
  await started;
}

/**
 * One sandbox per test file, reset before each test, and the helper's server around each test.
 * Returns a getter, as the sandbox exists only once beforeAll has run.
 */
export function useSandboxAndRuntime(options: SandboxOptions = {}): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, ...options });
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  beforeEach(async () => {
    sandbox?.reset();
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });
  return () => {
    if (!sandbox) throw new Error('the sandbox starts in beforeAll');
    return sandbox;
  };
}

/**
 * A fresh temporary user directory for each test, given to the runtime as `helper.settings({
 * userDir, ...settings })` (usage data and email in's cursors are kept there); afterwards the
 * settings go back to the defaults and the directory is removed. Called after
 * useSandboxAndRuntime() in the same block, the directory is set once the server has started and
 * removed once the flows are unloaded (connections write the usage file as they close); called in
 * a nested describe, its afterEach runs before the outer one's unload. Returns a getter, as the
 * directory exists only once beforeEach has run.
 */
export function useTempUserDir(options: { prefix?: string; settings?: Record<string, unknown> } = {}): () => string {
  const { prefix = 'o365-user-dir-', settings = {} } = options;
  let userDir: string | undefined;
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    helper.settings({ ...settings, userDir });
  });
  afterEach(async () => {
    // The flows first: closing connections write their usage file into the directory.
    await helper.unload();
    helper.settings({});
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    userDir = undefined;
  });
  return () => {
    if (!userDir) throw new Error('the user directory is made in beforeEach');
    return userDir;
  };
}

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export function connectionConfig(sandbox: Sandbox, overrides: Record<string, unknown> = {}): FlowNode {
  return {
    id: 'c1',
    type: 'office365-mail-connection',
    key: 'sandbox',
    name: 'Sandbox',
    tenantId: SANDBOX.tenantId,
    applicationId: SANDBOX.applicationId,
    senderEmail: SANDBOX.senderEmail,
    cloud: 'custom',
    loginUrl: sandbox.url,
    graphUrl: sandbox.url,
    ...overrides,
  };
}

/** A tab with connection c1, email task e1 (failures to output 2 and Catch) wired to helper nodes ok / fail, and a catch node → caught. */
export function mailFlow(sandbox: Sandbox, task: Record<string, unknown> = {}, connection: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 't1', type: 'tab', label: 'test' },
    connectionConfig(sandbox, connection),
    {
      id: 'e1',
      type: 'email-task',
      z: 't1',
      name: 'mail',
      ...EMAIL_TASK_DEFAULTS,
      connection: 'c1',
      // Both routes, so a test can watch output 2 and the catch node; email-task.test.ts covers each choice.
      onFailure: 'both',
      wires: [['ok'], ['fail']],
      ...task,
    },
    { id: 'ok', type: 'helper', z: 't1' },
    { id: 'fail', type: 'helper', z: 't1' },
    { id: 'catcher', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 't1' },
  ];
}

export async function loadMailFlow(flow: FlowNode[], clientSecret: string = SANDBOX.clientSecret): Promise<void> {
  await helper.load([connectionNode, emailTaskNode, catchNode], flow, { c1: { clientSecret } });
}

export type OutMsg = NodeMessage & Record<string, unknown>;

export interface Outputs {
  sent: OutMsg[];
  failed: OutMsg[];
  caught: OutMsg[];
  statuses: Array<{ fill?: string; shape?: string; text?: string }>;
  /** Resolves when `count` messages have left by either output. */
  settled(count: number): Promise<void>;
  /** Resolves when the catch node has received `count` messages. */
  caughtAtLeast(count: number): Promise<void>;
}

/** Collects what leaves the email task e1; waits are woken by arrivals, never by polling. */
export function watchOutputs(): Outputs {
  const waiters: Array<() => void> = [];
  const wake = (): void => waiters.splice(0).forEach((w) => w());
  const out: Outputs = {
    sent: [],
    failed: [],
    caught: [],
    statuses: [],
    settled: (count) => until(() => out.sent.length + out.failed.length >= count),
    caughtAtLeast: (count) => until(() => out.caught.length >= count),
  };
  function until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => (done() ? resolve() : void waiters.push(check));
      check();
    });
  }
  const node = (id: string): Node => helper.getNode(id);
  node('ok').on('input', (msg: OutMsg) => (out.sent.push(msg), wake()));
  node('fail').on('input', (msg: OutMsg) => (out.failed.push(msg), wake()));
  node('caught').on('input', (msg: OutMsg) => (out.caught.push(msg), wake()));
  // The helper re-emits spied calls as events that Node's typings do not list.
  const emitter = node('e1') as unknown as NodeJS.EventEmitter;
  emitter.on('call:status', (call: { args: [Outputs['statuses'][number]] }) => out.statuses.push(call.args[0]));
  return out;
}

export function send(msg: Record<string, unknown>): void {
  helper.getNode('e1').receive(msg);
}

/** Everything the runtime logged so far, as text. */
export function logText(): string {
  const spy = helper.log() as { args?: unknown[][] } | undefined;
  return JSON.stringify(spy?.args ?? []);
}

/**
 * An example flow file as a user imports it under `npm start`, plus the sandbox connection under
 * the id the examples name, and that connection's credentials.
 */
export function exampleWithSandbox(file: string, sandbox: Sandbox): { flow: FlowNode[]; credentials: Record<string, Record<string, string>> } {
  const example = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'examples', file), 'utf8')) as FlowNode[];
  const { credentials, ...connection } = sandboxStartFlow(sandbox.url).find((n) => n.id === EXAMPLE_CONNECTION_ID) as FlowNode;
  return { flow: [...example, connection as FlowNode], credentials: { [EXAMPLE_CONNECTION_ID]: credentials as Record<string, string> } };
}
