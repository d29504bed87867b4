/**
 * The browser tests' one set-up: the package in a fresh Node-RED user dir (the packed tarball, or
 * the checkout linked), Node-RED started on a free loopback port (this project's 4.1, or
 * NODE_RED_JS / NODE_RED_NODE) with its log, the sandbox, and Debian's Chromium on the editor.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../sandbox';
import { linkPackage, spawnNodeRed, writeSettings } from '../../scripts/local-node-red';
import { freePort } from '../support/ports';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the same finder npm test's pretest uses
const { findBrowser, missingBrowserText } = require('../../scripts/browser.js') as { findBrowser: () => string | undefined; missingBrowserText: () => string };

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

/**
 * How the package gets into the user dir: `packed`, the tarball as a user installs it; `linked`,
 * the checkout (as `npm start` does), quicker where what is tested does not depend on packing.
 */
export type Install = 'packed' | 'linked';

export async function startNodeRed(install: Install): Promise<RunningNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'o365-browser-'));
  if (install === 'packed') {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', userDir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() as string;
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(userDir, tarball)], { cwd: userDir, stdio: 'inherit' });
  } else {
    linkPackage(userDir, root);
  }
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
function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface EditorOptions {
  /** The folder for this file's screenshots (made if missing). */
  shots?: string;
  /** How the package is installed (default `packed`). */
  install?: Install;
  /** Deployed before the browser opens; it may point connections at the sandbox. */
  flow?: (sandbox: Sandbox) => unknown[];
}

export interface OpenEditor {
  sandbox: Sandbox;
  nodeRed: RunningNodeRed;
  browser: Browser;
  page: Page;
  /** Closes the browser, stops Node-RED (removing its user dir) and closes the sandbox. */
  close: () => Promise<void>;
}

/**
 * What every browser test starts in its beforeAll: the sandbox, Node-RED with the package and the
 * starting flow deployed, Chromium and a page (1600 × 1000) not yet on the editor. No browser fails
 * the suite with one clear line; it is never skipped. A failure part-way stops what was started.
 */
export async function openEditor(options: EditorOptions = {}): Promise<OpenEditor> {
  const executablePath = findBrowser();
  if (!executablePath) throw new Error(missingBrowserText());
  if (options.shots) fs.mkdirSync(options.shots, { recursive: true });
  let sandbox: Sandbox | undefined;
  let nodeRed: RunningNodeRed | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await nodeRed?.stop();
    await sandbox?.close();
  };
  try {
    sandbox = await startSandbox({ port: 0 });
    nodeRed = await startNodeRed(options.install ?? 'packed');
    if (options.flow) {
      const started = nodeRed.log().length;
      await axios.post(`${nodeRed.url}/flows`, options.flow(sandbox), { headers: { 'Node-RED-Deployment-Type': 'full' } });
      await nodeRed.waitForLog('Started flows', started);
    }
    browser = await launchChromium(executablePath);
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    return { sandbox, nodeRed, browser, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}
