/**
 * Management by path, with OTP's supervisor and sys semantics: read or replace an actor's state
 * in its own turn (`sys:get_state`, `sys:replace_state`), restart a child through its
 * supervisor's restart path, terminate it for good while its spec is kept (`terminate_child`),
 * start a terminated one again (`restart_child`) and forget it (`delete_child`).
 */
import type { Behavior } from '../core/actor.js';
import { type ActorCell, Status, STATUS_NAMES } from '../core/cell.js';
import { UNSTARTED } from '../core/delivery.js';
import type { MailboxConfig } from '../core/mailbox.js';
import type { ChildSpec } from '../core/spec.js';
import type { Clock } from '../util/clock.js';
import { ActorStoppedError, ConfigError, SystemStoppedError, TimeoutError } from '../util/errors.js';
import { PoolActor } from './pool.js';
import { Supervision } from './supervision.js';

/** What management needs of the system. */
export interface ManagementHost {
  readonly name: string;
  readonly clock: Clock;
  readonly isRunning: boolean;
  /** Top-level actors, in start order (the root supervisor's children). */
  readonly topLevel: Map<string, ActorCell>;
  /** The supervision `cell` is a child of (the root's for a top-level actor). */
  supervisionOf(cell: ActorCell): unknown;
  spawnCell(behavior: Behavior, name: string, args: unknown, mailbox: MailboxConfig, spec: ChildSpec, parent: ActorCell | null): ActorCell;
}

export class Management {
  /** Children terminated by `terminateChild`: they stay in their parent's children, stopped. */
  private readonly kept = new WeakSet<ActorCell>();

  constructor(
    private readonly host: ManagementHost,
    /** How long `replaceState` waits for the actor's turn (the system's ask timeout). */
    private readonly timeoutMs: number,
  ) {}

  /** True when `cell`, stopping for good, keeps its place among its siblings (terminated, spec kept). */
  keeps(cell: ActorCell): boolean {
    return this.kept.has(cell);
  }

  getState(path: string): unknown {
    const cell = this.live(path, 'getState');
    return cell.state === UNSTARTED ? undefined : cell.state;
  }

  replaceState(path: string, fn: (state: unknown) => unknown): Promise<unknown> {
    if (typeof fn !== 'function') throw new ConfigError('replaceState(fn)', 'must be a function from the state to the new state');
    const cell = this.live(path, 'replaceState');
    const clock = this.host.clock;
    return new Promise((resolve, reject) => {
      let pending = true;
      const timer = clock.setTimeout(() => {
        if (!pending) return;
        pending = false;
        const error = new TimeoutError(cell.path, this.timeoutMs);
        error.message = `replaceState of ${cell.path} timed out after ${this.timeoutMs} ms: its handler in progress has not finished; the state is unchanged`;
        reject(error);
      }, this.timeoutMs);
      const settle = (error: unknown, value?: unknown) => {
        if (!pending) return;
        pending = false;
        clock.clearTimeout(timer);
        if (error === undefined) resolve(value);
        else reject(error);
      };
      cell
        .runInTurn(() => {
          if (!pending) return; // timed out: the caller was told nothing happened
          if (cell.status !== Status.Running) throw new ActorStoppedError(cell.path, `${cell.path} is ${statusName(cell)}: its state was not replaced`);
          let next: unknown;
          try {
            next = fn(cell.state);
          } catch (error) {
            settle(error); // the operator's function failed: no crash, the state is unchanged
            return;
          }
          if (isThenable(next)) {
            settle(new ConfigError('replaceState(fn)', 'must return the new state, not a promise: the state is unchanged'));
            return;
          }
          cell.state = next;
          cell.log.info(`${cell.path}: state replaced by replaceState`);
          settle(undefined, next);
        })
        .catch((error) => settle(error ?? new ActorStoppedError(cell.path))); // stopped before its turn came
    });
  }

  async restartChild(path: string): Promise<void> {
    const cell = this.find(path, 'restartChild');
    this.checkRunning();
    if (cell.status === Status.Stopped || cell.status === Status.Failed) {
      // Terminated (or given up by the root): started again from its spec, as a new actor.
      const fresh = this.host.spawnCell(cell.behavior, cell.name, cell.args, cell.mailbox.config, cell.spec, cell.parentCell);
      this.kept.delete(cell);
      if (!(await fresh.whenStarted())) throw new ActorStoppedError(path, `${path} did not get through its init`);
      return;
    }
    if (cell.status === Status.Stopping) throw new ActorStoppedError(path, `${path} is stopping: it cannot be restarted until it has stopped`);
    if (cell.status === Status.Restarting) {
      // Already being restarted (by its supervisor, or with its parent): resolves once it runs.
      if (!(await cell.whenStarted())) throw new ActorStoppedError(path, `${path} is restarting with its parent; restart the parent instead`);
      return;
    }
    const supervision = this.host.supervisionOf(cell);
    if (!(supervision instanceof Supervision)) throw new ConfigError('restartChild(path)', `${path} has no supervisor that can restart it`);
    if (!(await supervision.restartOne(cell))) throw new ActorStoppedError(path, `${path} did not get through its init after the restart`);
  }

  async terminateChild(path: string): Promise<void> {
    const cell = this.find(path, 'terminateChild');
    if (cell.parentCell?.behavior === PoolActor) {
      throw new ConfigError(
        'terminateChild(path)',
        `${path} is a worker of the pool ${cell.parentCell.path}: the pool manages its workers (restart it, or terminate the pool)`,
      );
    }
    this.kept.add(cell);
    if (cell.status >= Status.Stopped) return; // terminated already (OTP: ok)
    await cell.requestStop('shutdown');
  }

  deleteChild(path: string): void {
    const cell = this.find(path, 'deleteChild');
    if (cell.status !== Status.Stopped && cell.status !== Status.Failed) {
      throw new ConfigError('deleteChild(path)', `${path} is ${statusName(cell)}: only a terminated child can be deleted (terminateChild first)`);
    }
    const siblings = cell.parentCell === null ? this.host.topLevel : cell.parentCell.children;
    if (siblings?.get(cell.name) === cell) siblings.delete(cell.name);
    this.kept.delete(cell);
  }

  /** The actor at `path`, live or kept stopped; ActorStoppedError naming the path if there is none. */
  private find(path: string, op: string): ActorCell {
    if (typeof path !== 'string' || !/^(\/[^/]+)+$/.test(path)) {
      throw new ConfigError(`${op}(path)`, `must be an actor path such as '/trading/strategy' (got ${typeof path === 'string' ? `'${path}'` : String(path)})`);
    }
    const parts = path.split('/');
    let cell = this.host.topLevel.get(parts[1]!);
    for (let i = 2; cell !== undefined && i < parts.length; i++) cell = cell.children?.get(parts[i]!);
    if (cell === undefined) throw new ActorStoppedError(path, `no actor at ${path}`);
    return cell;
  }

  /** The live actor at `path` (a stopping one included). */
  private live(path: string, op: string): ActorCell {
    const cell = this.find(path, op);
    if (cell.status >= Status.Stopped) throw new ActorStoppedError(path, `actor ${path} is ${statusName(cell)}`);
    return cell;
  }

  private checkRunning(): void {
    if (!this.host.isRunning) throw new SystemStoppedError(this.host.name);
  }
}

function statusName(cell: ActorCell): string {
  return STATUS_NAMES[cell.status];
}

function isThenable(value: unknown): boolean {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
