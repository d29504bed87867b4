/** The floor client (bench/floor-client.ts) as a forked child, driven over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FloorRunRequest, FloorRunResult } from '../floor-client';

type FromChild = FloorRunResult | { type: 'ready' } | { type: 'error'; message: string };

export class FloorProcess {
  private constructor(
    readonly mode: 'axios' | 'https',
    private readonly child: ChildProcess,
  ) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static start(mode: 'axios' | 'https', env: NodeJS.ProcessEnv): Promise<FloorProcess> {
    const child = fork(path.join(__dirname, '..', 'floor-client.ts'), [], {
      // tsx's CommonJS hook only: the client's own code is all that runs in the measured window.
      execArgv: ['--require', require.resolve('tsx/cjs')],
      env: { ...env, BENCH_FLOOR_MODE: mode },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const floor = new FloorProcess(mode, child);
    return floor.next().then((message) => {
      if (message.type !== 'ready') throw new Error(`The ${mode} floor client did not start: ${JSON.stringify(message)}`);
      return floor;
    });
  }

  private next(): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromChild): void => {
        cleanup();
        if (message.type === 'error') reject(new Error(`${this.mode} floor client: ${message.message}`));
        else resolve(message);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`The ${this.mode} floor client exited (${code}) mid-run.`));
      };
      const cleanup = (): void => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  async run(n: number, concurrency: number, profileFile?: string): Promise<FloorRunResult> {
    const answer = this.next();
    const request: FloorRunRequest = { type: 'run', n, concurrency, profileFile };
    this.child.send(request);
    const message = await answer;
    if (message.type !== 'result') throw new Error(`Unexpected answer from the ${this.mode} floor client: ${JSON.stringify(message)}`);
    return message;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'stop' });
    else this.child.kill('SIGTERM');
    const stuck = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(stuck);
  }

  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
