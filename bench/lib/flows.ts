/**
 * The two Node-RED flows. Both have the same driver: `POST /bench/run {n, window}` starts a run;
 * the driver keeps `window` mails in flight (a new message each time one leaves the mail node),
 * and when the n-th has left it answers the HTTP request with the Node-RED process's CPU for the
 * run (process.cpuUsage, through a function exposed by the bench's settings file) and its time.
 * A window rather than one burst of n: the email task's queue holds 1,000 by default, and the
 * e-mail node would open n SMTP connections at once.
 */
import { SENDER } from './workload';
import { EMAIL_TASK_DEFAULTS, sandboxConnectionFields } from '../../scripts/local-node-red';

export type FlowNode = Record<string, unknown> & { id: string; type: string };

const TAB = 'b0e0c0de00000001';
const DRIVER = 'b0e0c0de00000003';
const MAIL_NODE = 'b0e0c0de00000005';
const CONNECTION = 'b0e0c0de00000006';
const COMPLETE = 'b0e0c0de00000007';
const CATCH = 'b0e0c0de00000008';
const FLOW_TAB = 'b0e0c0de00000101';
const AXIOS_TAB = 'b0e0c0de00000201';

/** The driver (a function node). `global.get('bench')` is the settings file's hook. */
const DRIVER_JS = `
const bench = global.get('bench');
if (msg.req && msg.res) {
  const p = msg.payload || {};
  const run = { n: Number(p.n), window: Math.min(Number(p.window), Number(p.n)), mail: p.mail,
    issued: 0, done: 0, failed: 0, firstError: undefined, req: msg.req, res: msg.res, profile: p.profileFile };
  context.set('run', run);
  const begin = () => {
    run.cpu0 = bench.cpu();
    run.t0 = bench.now();
    for (let i = 0; i < run.window; i++) {
      run.issued++;
      node.send([{ to: run.mail.to, topic: run.mail.topic, payload: run.mail.payload }, null], false);
    }
  };
  if (run.profile) {
    run.profiler = bench.startProfile();
    run.profiler.started.then(begin);
  } else begin();
  return null;
}
const run = context.get('run');
if (!run) return null;
run.done++;
if (msg.error) {
  run.failed++;
  if (run.firstError === undefined) run.firstError = String(msg.error.message || msg.error);
}
if (run.issued < run.n) {
  run.issued++;
  node.send([{ to: run.mail.to, topic: run.mail.topic, payload: run.mail.payload }, null], false);
}
if (run.done === run.n) {
  const cpu = bench.cpu(run.cpu0);
  const elapsedMs = bench.now() - run.t0;
  context.set('run', undefined);
  const answer = { req: run.req, res: run.res, statusCode: 200, payload: {
    sent: run.n - run.failed, failed: run.failed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, elapsedMs, firstError: run.firstError } };
  if (run.profiler) run.profiler.stop(run.profile).then(() => node.send([null, answer], false));
  else node.send([null, answer], false);
}
return null;
`;

/** A tab with `POST <url>` → driver → `mailNode` (added by the caller); driver → http response. */
function driverTab(tab: string, url: string, mailNode: string): FlowNode[] {
  const id = (n: number): string => `${tab.slice(0, -2)}${String(n).padStart(2, '0')}`;
  return [
    { id: tab, type: 'tab', label: `Benchmark ${url}`, disabled: false, info: '' },
    { id: id(2), type: 'http in', z: tab, name: '', url, method: 'post', upload: false, swaggerDoc: '', x: 120, y: 80, wires: [[id(3)]] },
    {
      id: id(3),
      type: 'function',
      z: tab,
      name: 'driver',
      func: DRIVER_JS,
      outputs: 2,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      x: 300,
      y: 80,
      wires: [[mailNode], [id(4)]],
    },
    { id: id(4), type: 'http response', z: tab, name: '', statusCode: '', headers: {}, x: 480, y: 140, wires: [] },
  ];
}

function common(): FlowNode[] {
  return driverTab(TAB, '/bench/run', MAIL_NODE);
}

/**
 * The same driver with a change node (no rules) where the mail node would be: what Node-RED and
 * the driver cost per message by themselves, in the email task's process.
 */
export function flowOnlyTab(): FlowNode[] {
  const passThrough = `${FLOW_TAB.slice(0, -2)}05`;
  return [
    ...driverTab(FLOW_TAB, '/bench/run-flow', passThrough),
    { id: passThrough, type: 'change', z: FLOW_TAB, name: '', rules: [], x: 480, y: 80, wires: [[`${FLOW_TAB.slice(0, -2)}03`]] },
  ];
}

/**
 * The same driver with a function node posting the floor's request with the floor's lean axios
 * client (the settings file's `bench.leanPost`) where the mail node would be: the lean-axios floor
 * inside the email task's process. The caller keeps 4 in flight, as the floor does.
 */
export function leanAxiosTab(): FlowNode[] {
  const poster = `${AXIOS_TAB.slice(0, -2)}05`;
  const post = `global.get('bench').leanPost().then(() => node.send(msg), (err) => { msg.error = { message: String((err && err.message) || err) }; node.send(msg); });
return null;`;
  return [
    ...driverTab(AXIOS_TAB, '/bench/run-axios', poster),
    { id: poster, type: 'function', z: AXIOS_TAB, name: 'lean axios post', func: post, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 480, y: 80, wires: [[`${AXIOS_TAB.slice(0, -2)}03`]] },
  ];
}

/** http in → driver → email task (both outputs) → driver; driver → http response. */
export function emailTaskFlow(sandboxUrl: string): FlowNode[] {
  return [
    ...flowOnlyTab(),
    ...leanAxiosTab(),
    ...common(),
    {
      id: MAIL_NODE,
      type: 'email-task',
      z: TAB,
      name: '',
      ...EMAIL_TASK_DEFAULTS,
      connection: CONNECTION,
      timeout: 30,
      x: 480,
      y: 80,
      wires: [[DRIVER], [DRIVER]],
    },
    { id: CONNECTION, type: 'office365-mail-connection', ...sandboxConnectionFields(sandboxUrl), key: 'bench' },
  ];
}

/**
 * http in → driver → e-mail (node-red-node-email's send node, which has no output) whose
 * completion (`complete` node, on done()) or failure (`catch` node) goes back to the driver.
 */
export function emailNodeFlow(smtpPort: number): FlowNode[] {
  return [
    ...common(),
    {
      id: MAIL_NODE,
      type: 'e-mail',
      z: TAB,
      // The node's name, when set, replaces msg.to: left empty.
      name: '',
      server: '127.0.0.1',
      port: String(smtpPort),
      secure: false,
      tls: false,
      authtype: 'NONE',
      credentials: { userid: SENDER },
      x: 480,
      y: 80,
      wires: [],
    },
    { id: COMPLETE, type: 'complete', z: TAB, name: '', scope: [MAIL_NODE], uncaught: false, x: 120, y: 140, wires: [[DRIVER]] },
    { id: CATCH, type: 'catch', z: TAB, name: '', scope: [MAIL_NODE], uncaught: false, x: 120, y: 200, wires: [[DRIVER]] },
  ];
}
