/**
 * `npm start` as a user or a supervisor runs it: it comes up, a SIGTERM or SIGINT to the npm process
 * takes Node-RED and the sandbox down with it (no orphan, ports free), and a taken port stops it
 * before anything on disk changes. A temporary user dir (NODE_RED_USER_DIR) keeps the developer's
 * own .node-red out of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EXAMPLE_CONNECTION_ID, linkPackage, portInUse } from '../../scripts/local-node-red';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const root = path.join(__dirname, '..', '..');

interface Started {
  npm: ChildProcess;
  output: () => string;
  userDir: string;
  ports: [number, number];
}

/** Every process below `pid`, read from /proc (Linux). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name sits in parentheses and may hold spaces: the ppid is the 2nd field after it.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of parents) {
      if (parent !== p) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startNpm(userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-start-')), ports?: [number, number]): Promise<Started> {
  const [nodeRedPort, sandboxPort] = ports ?? [await freePort(), await freePort()];
  let output = '';
  const npm = spawn('npm', ['start'], {
    cwd: root,
    env: { ...process.env, NODE_RED_PORT: String(nodeRedPort), SANDBOX_PORT: String(sandboxPort), NODE_RED_USER_DIR: userDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npm.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { npm, output: () => output, userDir, ports: [nodeRedPort, sandboxPort] };
}

function waitFor(started: Started, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (started.output().includes(text)) return finish(resolve);
      if (started.npm.exitCode !== null) finish(() => reject(new Error(`npm start exited ${started.npm.exitCode}:\n${started.output()}`)));
    };
    const finish = (fn: () => void): void => {
      started.npm.stdout?.off('data', check);
      started.npm.off('exit', check);
      fn();
    };
    started.npm.stdout?.on('data', check);
    started.npm.on('exit', check);
    check();
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stopsCleanly(signal: NodeJS.Signals): Promise<void> {
  const started = await startNpm();
  try {
    await waitFor(started, 'Stop with Ctrl+C');
    const tree = descendants(started.npm.pid as number);
    // npm, its shell's exec'd start process, Node-RED: at least the last two below npm.
    expect(tree.length).toBeGreaterThanOrEqual(2);
    expect(started.output()).toContain(`client secret`);
    expect(started.output()).toMatch(/Node-RED version: v\d+\.\d+\.\d+\s/);
    expect(started.output()).not.toMatch(/Node-RED version: v\S+-git/);
    started.npm.kill(signal);
    await exited(started.npm);
    // Children may take a moment after npm itself is gone; they must all go within a few seconds.
    const deadline = Date.now() + 10_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(alive)).toEqual([]);
    expect(await portInUse(started.ports[0])).toBe(false);
    expect(await portInUse(started.ports[1])).toBe(false);
  } finally {
    for (const pid of [started.npm.pid as number, ...descendants(started.npm.pid as number)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(started.userDir, { recursive: true, force: true });
  }
}

describe('npm start', () => {
  it('comes up with the sandbox connection, and SIGTERM to npm stops Node-RED and the sandbox: no orphan, ports free', async () => {
    await stopsCleanly('SIGTERM');
  });

  it('SIGINT (Ctrl+C) does the same', async () => {
    await stopsCleanly('SIGINT');
  });

  it('a taken port is named, with what to do, and nothing on disk changes', async () => {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-start-'));
    const flows = [{ id: EXAMPLE_CONNECTION_ID, type: 'office365-mail-connection', key: 'sandbox', loginUrl: 'https://127.0.0.1:1', graphUrl: 'https://127.0.0.1:1' }];
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
    const before = fs.readdirSync(userDir).map((f) => [f, fs.readFileSync(path.join(userDir, f), 'utf8')]);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    try {
      const started = await startNpm(userDir, [takenPort, await freePort()]);
      expect(await exited(started.npm)).not.toBe(0);
      expect(started.output()).toContain(`Port ${takenPort} is already in use (NODE_RED_PORT)`);
      expect(started.output()).toContain('NODE_RED_PORT=1881 SANDBOX_PORT=8444 npm start');
      expect(fs.readdirSync(userDir).map((f) => [f, fs.readFileSync(path.join(userDir, f), 'utf8')])).toEqual(before);
    } finally {
      taken.close();
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });
});

describe('the package link in the user dir', () => {
  it('is relative, so moving the checkout keeps it working, and a stale link is replaced', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-link-'));
    const checkout = path.join(base, 'checkout');
    fs.mkdirSync(checkout);
    fs.writeFileSync(path.join(checkout, 'package.json'), '{}');
    const userDir = path.join(checkout, '.node-red');
    linkPackage(userDir, checkout);
    const link = path.join(userDir, 'node_modules', 'node-red-contrib-office365-mail');
    expect(path.isAbsolute(fs.readlinkSync(link))).toBe(false);

    const moved = path.join(base, 'moved');
    fs.renameSync(checkout, moved);
    const movedLink = path.join(moved, '.node-red', 'node_modules', 'node-red-contrib-office365-mail');
    expect(fs.existsSync(path.join(movedLink, 'package.json'))).toBe(true);

    // A link an older start made (absolute, now dangling) is replaced, not an EEXIST.
    fs.unlinkSync(movedLink);
    fs.symlinkSync(path.join(base, 'gone'), movedLink, 'dir');
    linkPackage(path.join(moved, '.node-red'), moved);
    expect(fs.existsSync(path.join(movedLink, 'package.json'))).toBe(true);
    fs.rmSync(base, { recursive: true, force: true });
  });
});
