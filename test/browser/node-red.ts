/**
 * For the browser test: the packed tarball installed into a fresh Node-RED user dir, Node-RED
 * started on a free loopback port (this project's 4.1, or NODE_RED_JS / NODE_RED_NODE), and its log.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { spawnNodeRed, writeSettings } from '../../scripts/local-node-red';
import { freePort } from '../support/ports';

const root = path.join(__dirname, '..', '..');

export interface RunningNodeRed {
  url: string;
  userDir: string;
  log: () => string;
  waitForLog: (text: string, after?: number) => Promise<void>;
  /** Stops Node-RED and starts it again on the same user dir and port (flows and usage data stay). */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startPackedNodeRed(): Promise<RunningNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-browser-'));
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', userDir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() as string;
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(userDir, tarball)], { cwd: userDir, stdio: 'inherit' });
  const port = await freePort();
  writeSettings(userDir, { port, credentialSecret: 'browser-credential-key' });
  let log = '';
  let nodeRed: ChildProcess;
  const launch = (): void => {
    nodeRed = spawnNodeRed(userDir, { ...process.env });
    nodeRed.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    nodeRed.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  };
  const halt = async (): Promise<void> => {
    if (nodeRed.exitCode === null) {
      const exited = new Promise((resolve) => nodeRed.once('exit', resolve));
      nodeRed.kill('SIGINT');
      await exited;
    }
  };
  launch();

  // Resolves once `text` is in the log after position `after`; fails if Node-RED exits first.
  const waitForLog = (text: string, after = 0): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (log.indexOf(text, after) !== -1) return done(resolve);
        if (nodeRed.exitCode !== null) return done(() => reject(new Error(`Node-RED exited: ${log}`)));
      };
      const done = (fn: () => void): void => {
        nodeRed.stdout?.off('data', check);
        nodeRed.off('exit', check);
        fn();
      };
      nodeRed.stdout?.on('data', check);
      nodeRed.on('exit', check);
      check();
    });

  await waitForLog('Server now running');
  return {
    url: `http://127.0.0.1:${port}`,
    userDir,
    log: () => log,
    waitForLog,
    restart: async () => {
      await halt();
      const from = log.length;
      launch();
      await waitForLog('Server now running', from);
    },
    stop: async () => {
      await halt();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, as every browser test runs it (root in CI needs --no-sandbox). */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
