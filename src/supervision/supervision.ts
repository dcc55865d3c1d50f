/**
 * Supervision with OTP semantics: the restart bookkeeping and decisions of one supervising actor
 * (or of the system's root). When a child exits — a crash, or a normal exit of its own
 * (`ctx.stop()`) — its supervisor decides by the child's restart type (permanent / transient /
 * temporary) whether to restart it, counts the restart against its intensity (`maxRestarts`
 * within a sliding `withinMs`), picks the victims by strategy, ends them in reverse start order,
 * waits for the backoff, and starts them again in start order, each once the previous one runs.
 * Too many restarts: the supervisor fails to its own parent (escalation). At the root the system
 * does not die and does not restart in a storm: the escalation raises the system mode, and a
 * subtree that had run is revived after the root's escalation backoff (its refs kept, its
 * siblings untouched), so service comes back once the fault is over; one that never got through
 * its init is marked failed (a start failure is a bug to fix, not a fault to wait out).
 */
import type { Logger } from 'pino';
import type { ExitReason } from '../core/actor.js';
import { type ActorCell, Status } from '../core/cell.js';
import type { ChildSupervisor } from '../core/runtime.js';
import type { Clock } from '../util/clock.js';
import { backoffDelay } from '../util/backoff.js';
import { EscalationError } from '../util/errors.js';
import { loggableError } from '../util/logger.js';
import { type BackoffOptions, type Intensity, isCrash, type SupervisionConfig } from './spec.js';

/** The delay before reviving a subtree that escalated to the root, when `root.backoff` is unset:
 *  a crash loop is retried at most about once a second, and back within a second of its fault. */
const REVIVE_BACKOFF: Required<BackoffOptions> = Object.freeze({ minMs: 50, maxMs: 1000, factor: 2, jitter: 0.2, resetAfterMs: 5000 });

/** What a supervision needs of the system: time, randomness (backoff jitter) and its log. */
export interface SupervisionHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly random: () => number;
  readonly isRunning: boolean;
  /** A child was restarted (a health signal; the `actor.restarted` event). */
  restarted(child: ActorCell): void;
  /** `supervisor` exceeded its restart intensity over `child` and fails to its own parent (the `supervisor.escalated` event). */
  escalated(supervisor: ActorCell, child: ActorCell): void;
}

/** What the system's root supervisor has instead of an owning actor. */
export interface RootHost {
  /** Top-level actors, in start order: the root supervisor's children. */
  readonly topLevel: ReadonlyMap<string, ActorCell>;
  /** An escalation reached the root: recorded and logged; `failed` when the subtree is given up. */
  recordEscalation(cell: ActorCell, reason: ExitReason, failed: boolean): void;
}

/** Times of recent restarts, oldest first (a sliding window that starts at `oldest`). */
class RestartWindow {
  times: number[] = [];
  oldest = 0;

  /** Records a restart at `now`; true when more than `maxRestarts` fall within `withinMs`. */
  record(now: number, { maxRestarts, withinMs }: Intensity): boolean {
    const times = this.times;
    times.push(now);
    // Advance past expired entries instead of shift(), which copies the array each time;
    // compact once the dead prefix is the larger part.
    while (times[this.oldest]! <= now - withinMs) this.oldest++;
    if (this.oldest > 1024 && this.oldest * 2 > times.length) {
      this.times = times.slice(this.oldest);
      this.oldest = 0;
    }
    return this.times.length - this.oldest > maxRestarts;
  }
}

/** The restart bookkeeping and decisions of one supervising actor (or of the system's root). */
export class Supervision implements ChildSupervisor<ActorCell> {
  get strategy(): string {
    return this.config.strategy;
  }

  private readonly window = new RestartWindow();
  /**
   * At the root, each top-level actor has its own window: unrelated actors spawned with
   * `system.spawn` must not use up each other's restarts (there is no application to fail).
   */
  private readonly windows = new WeakMap<ActorCell, RestartWindow>();
  /** Backoff delays in progress, cancelled when the supervisor itself ends. */
  private readonly pending = new Set<{ timer: unknown; resolve: () => void }>();

  constructor(
    readonly system: SupervisionHost,
    readonly config: SupervisionConfig,
    /** The supervising actor; null for the system's root supervisor. */
    readonly owner: ActorCell | null,
    private readonly root: RootHost | null = null,
  ) {}

  /**
   * A child exited on its own: a crash, or a normal exit (`ctx.stop()`). Decides — stop it for
   * good, restart it (and the siblings its strategy names), or escalate — and logs a report.
   */
  onChildExit(child: ActorCell, reason: ExitReason, where: string): void {
    const crashed = isCrash(reason);
    const type = child.spec.restart;
    const wanted = type === 'permanent' || (type === 'transient' && crashed);
    // No restarts under a supervisor that is itself ending, nor during system shutdown; under one
    // ending for a restart, the child stays halted and is held for the supervisor's next init.
    const decision = !wanted
      ? 'stop'
      : this.ownerRestarting
        ? 'hold'
        : this.ownerLeaving
          ? 'stop'
          : !this.recordRestart(this.system.clock.now(), child)
            ? 'restart'
            : this.owner === null && child.hasRun
              ? 'revive'
              : 'escalate';
    const log = this.system.log;
    if (log.isLevelEnabled(crashed ? 'error' : 'info')) {
      const report = {
        path: child.path,
        supervisor: this.owner?.path ?? '/',
        strategy: this.config.strategy,
        restartType: type,
        restarts: child.restarts,
        decision,
        in: where,
      };
      if (crashed) log.error({ ...report, err: loggableError(reason.error) }, `crash report: ${child.path} crashed in ${where}; ${decision}`);
      else log.info(report, `${child.path} exited normally; ${decision}`);
    }
    if (decision === 'stop') void child.stopForGood(reason);
    else if (decision === 'hold')
      return; // the owner's ending holds it (it is halted meanwhile)
    else if (decision === 'escalate') this.escalate(child, reason);
    else if (decision === 'revive') {
      this.root!.recordEscalation(child, reason, false);
      void this.restart(child, reason, REVIVE_BACKOFF);
    } else void this.restart(child, reason);
  }

  /** Records a restart of `child` now; true when that exceeds the intensity. */
  recordRestart(now: number, child: ActorCell): boolean {
    let window = this.window;
    if (this.owner === null) {
      window = this.windows.get(child) ?? new RestartWindow();
      this.windows.set(child, window);
    }
    return window.record(now, this.config.intensity);
  }

  /** The children to restart when `failed` exits, in start order. */
  victims(failed: ActorCell, children: ActorCell[]): ActorCell[] {
    switch (this.config.strategy) {
      case 'one-for-one':
        return [failed];
      case 'one-for-all':
        return children;
      case 'rest-for-one':
        return children.slice(children.indexOf(failed));
    }
  }

  /** Delay before restarting `cell`, growing per consecutive restart, reset after stability. */
  backoffDelay(cell: ActorCell, now: number, fallback: Required<BackoffOptions> | null = null): number {
    const backoff = this.config.backoff ?? fallback;
    if (backoff === null) return 0;
    const step = cell.nextBackoffStep(now, backoff.resetAfterMs);
    const { minMs, maxMs, factor, jitter } = backoff;
    return backoffDelay(step, { baseMs: minMs, maxMs, factor, jitter, jitterMode: 'both' }, this.system.random);
  }

  /** Children that are not stopping or stopped, in start order. */
  private children(): ActorCell[] {
    const map = this.owner === null ? this.root!.topLevel : this.owner.children;
    return map === null ? [] : [...map.values()].filter((c) => c.isActive);
  }

  /** The supervising actor is ending for a restart (its children will be held, not stopped). */
  private get ownerRestarting(): boolean {
    return this.system.isRunning && this.owner !== null && this.owner.status === Status.Restarting;
  }

  /** The supervisor (or the system) has begun to stop: nothing restarts any more. */
  private get ownerLeaving(): boolean {
    const owner = this.owner;
    return !this.system.isRunning || (owner !== null && owner.status !== Status.Running && owner.status !== Status.Starting);
  }

  /**
   * Stops the victims in reverse start order (the failed child is already halted; temporary
   * siblings stop for good), waits for the backoff, then starts them again in start order.
   */
  private async restart(failed: ActorCell, reason: ExitReason, backoff: Required<BackoffOptions> | null = null): Promise<void> {
    const victims = this.victims(failed, this.children());
    const plan = {};
    for (const v of victims) v.joinRestart(plan);
    const delay = this.backoffDelay(failed, this.system.clock.now(), backoff);
    for (const v of [...victims].reverse()) {
      if (v !== failed && v.spec.restart === 'temporary') await v.stopForGood('shutdown');
      else await v.endIncarnation(v === failed ? reason : 'shutdown', true);
    }
    if (delay > 0) await this.sleep(delay);
    // Start them again in start order, each once the previous one runs. One that fails to start
    // is restarted by a newer plan, which takes over the victims after it (rest-for-one, …):
    // they are not started meanwhile.
    for (const v of victims) {
      if (this.ownerLeaving) return;
      // Skip actors stopped meanwhile, or taken over by a newer restart plan.
      if (!v.awaitsRestart(plan)) continue;
      v.reinit();
      this.system.restarted(v);
      await v.whenStarted();
    }
  }

  /**
   * An operator's restart of one child (`system.restartChild`): the normal restart path — its
   * incarnation ends (terminate runs, its children are held for the next init), then a new one
   * starts, same ref and mailbox — for this child only, at once (no backoff), and not counted
   * against the intensity (no failure happened). Resolves once the new incarnation is running;
   * false if it did not get there (it crashed in init: supervised as any crash, or was stopped).
   */
  async restartOne(child: ActorCell): Promise<boolean> {
    const plan = {};
    child.joinRestart(plan);
    await child.endIncarnation('shutdown', true);
    if (this.ownerLeaving || !child.awaitsRestart(plan)) return false;
    child.reinit();
    this.system.restarted(child);
    return child.whenStarted();
  }

  /** Too many restarts: at the root the system records it; elsewhere the owner fails upward. */
  private escalate(child: ActorCell, reason: ExitReason): void {
    if (this.owner === null) {
      this.root!.recordEscalation(child, reason, true);
      void child.stopForGood(reason, true);
      return;
    }
    this.system.escalated(this.owner, child);
    this.owner.crash(new EscalationError(this.owner.path, child.path, reason), undefined, undefined, 'supervision');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: null as unknown, resolve };
      entry.timer = this.system.clock.setTimeout(() => {
        this.pending.delete(entry);
        resolve();
      }, ms);
      this.pending.add(entry);
    });
  }

  /** Cancels backoff waits (the supervisor is ending): the waiting restarts then find their
   *  actors stopped and do nothing. */
  cancelPending(): void {
    for (const entry of this.pending) {
      this.system.clock.clearTimeout(entry.timer);
      entry.resolve();
    }
    this.pending.clear();
  }
}
