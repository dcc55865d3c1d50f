/**
 * A nats-server on a free loopback port — for the cluster demo, the remote benchmark and the
 * cluster tests — and children run under tsx.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface NatsServer {
  url: string;
  stop(): Promise<void>;
}

/** A loopback port nobody listens on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/** Exits 1 with one line when nats-server is not on the PATH. */
export function requireNatsServer(): void {
  const probe = spawnSync('nats-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    console.error("nats-server not found on the PATH: install Debian's nats-server (apt-get install nats-server)");
    process.exit(1);
  }
}

/** Starts nats-server on a free loopback port; resolves once it accepts connections. */
export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const started = performance.now();
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || performance.now() - started > 5000) {
      proc.kill('SIGKILL');
      throw new Error(`nats-server did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A child process running `script` under tsx, talking in JSON lines on stdout. */
export interface Child {
  proc: ChildProcess;
  /** Resolves with the first line for which `match` is true. */
  next(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  onLine(listener: (line: Record<string, unknown>) => void): void;
  exited: Promise<number | null>;
}

export function spawnChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const listeners = new Set<(line: Record<string, unknown>) => void>();
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      process.stdout.write(`${text}\n`);
      return;
    }
    for (const listener of [...listeners]) listener(line);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    exited,
    onLine: (listener) => listeners.add(listener),
    next: (match) =>
      new Promise((resolve, reject) => {
        const listener = (line: Record<string, unknown>) => {
          if (!match(line)) return;
          listeners.delete(listener);
          resolve(line);
        };
        listeners.add(listener);
        void exited.then((code) => reject(new Error(`${script} ${args.join(' ')} exited (${code}) before answering`)));
      }),
  };
}
