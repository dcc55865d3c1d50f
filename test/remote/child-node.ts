/**
 * A cluster node in a child process (test/remote/node-child.ts) for the remote tests: its output
 * lines as they come, and `ready` once it has joined.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { until } from '../helpers.js';

const SCRIPT = new URL('./node-child.ts', import.meta.url).pathname;

export interface ChildNode {
  child: ChildProcess;
  /** Every line it has written so far. */
  lines: string[];
  /** Resolves once it writes "ready" (within 15 s). */
  ready: Promise<void>;
  /** SIGKILL, unless it has exited already. */
  kill(): void;
}

/** Starts node `node` of the cluster at `url`; `options` as node-child.ts takes them (`partner=<node>`). */
export function startChildNode(url: string, node: string, ...options: string[]): ChildNode {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, url, node, ...options], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  return {
    child,
    lines,
    ready: until(() => lines.includes('ready'), 15_000),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
