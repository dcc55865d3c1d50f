/**
 * ReplHost: what the REPL needs of the system it operates — the seam that lets src/repl sit
 * below the composition root (ActorSystem implements it, src/repl never imports system.ts).
 * The management-by-path methods are optional here: a command that needs one says so when the
 * system has none.
 */
import type { Logger } from 'pino';
import type { DeadLetters } from '../core/dead-letters.js';
import type { ActorRef } from '../core/ref.js';
import type { Mode } from '../modes/modes-machine.js';
import type { SnapshotInfo } from '../persistence/snapshots.js';
import type { TreeNode } from '../supervision/tree.js';

export interface ReplHost {
  readonly name: string;
  readonly log: Logger;
  readonly mode: Mode;
  readonly deadLetters: DeadLetters;
  readonly isRunning: boolean;
  tree(): TreeNode[];
  lookup(path: string): ActorRef | undefined;
  setMode(mode: Mode | 'auto', reason?: string): void;
  snapshots(path: string): SnapshotInfo[];
  restore(path: string, options?: { seq?: number; timeoutMs?: number }): Promise<void>;
  metrics(): object;
  stop(ref: ActorRef): Promise<void>;
  shutdown(): Promise<void>;
  /** OTP's sys:get_state: the state of the actor at `path`. */
  getState?(path: string): unknown;
  /** OTP's restart_child: the actor at `path` restarted by its supervisor. */
  restartChild?(path: string): Promise<unknown>;
  /** OTP's terminate_child: the actor at `path` stopped, its spec kept (restartChild brings it back). */
  terminateChild?(path: string): Promise<unknown>;
}
