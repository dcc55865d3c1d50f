/**
 * Supervision with OTP semantics. Every actor that has children supervises them; a `supervisor`
 * node of a declared tree is an actor whose only job that is. The system's root supervisor
 * (one-for-one) holds the top-level actors.
 *
 * When a child exits — a crash, or a normal exit of its own (`ctx.stop()`) — its supervisor
 * decides by the child's restart type (permanent / transient / temporary) whether to restart it,
 * counts the restart against its intensity (`maxRestarts` within a sliding `withinMs`), picks the
 * victims by strategy, stops them in reverse start order, waits for the backoff, and starts them
 * again in start order. Too many restarts: the supervisor stops all its children and fails to its
 * own parent (escalation). At the root the system records the escalation and marks the failing
 * subtree failed instead of dying.
 */
import { type Behavior, defineActor, type ExitReason, isBehavior } from '../core/actor.js';
import { type ActorCell, Status } from '../core/cell.js';
import type { ActorSystem } from '../system.js';
import { ConfigError, GenesisError } from '../util/errors.js';
import type { MailboxOptions } from '../core/mailbox.js';
import { checkPartners, type SnapshotOptions, snapshotConfig } from '../persistence/snapshots.js';
import { checkPoolOptions, type PoolSpec, poolKeys } from './pool.js';
import { BREAKER_DEFAULTS, type BreakerOptions, breakerOptions, type ResolvedBreakerOptions } from '../resilience/breaker.js';
import { mailboxConfig } from '../core/mailbox.js';
import { checkName, checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';
import type { ActorContext } from '../core/context.js';

export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';
export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface Intensity {
  maxRestarts: number;
  withinMs: number;
}

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Growth per consecutive restart (default 2). */
  factor?: number;
  /** Random spread, 0…1: the delay is scaled by a factor in [1 - jitter, 1 + jitter] (default 0.2). */
  jitter?: number;
  /** Running this long without a crash resets the growth (default maxMs). */
  resetAfterMs?: number;
}

/** Options of one supervised child (and of `spawn`). */
export interface ChildOptions<A = unknown> {
  args?: A;
  restart?: RestartType;
  /** How long a stop may take (in-flight handler, then terminate) before the actor is killed. */
  shutdownMs?: number;
  /** How many times one message may crash the actor before it goes to dead letters (default 1). */
  maxMessageCrashes?: number;
  essential?: boolean;
  mailbox?: MailboxOptions;
  /** Take snapshots of the state; it is restored from the newest valid one after every init. */
  snapshot?: SnapshotOptions;
  /** Paths of actors that hold a copy of every snapshot (in memory and in the store). */
  partners?: string[];
  /**
   * The breaker that guards asks to this actor (created on the first ask), or false for none.
   * `fallback` answers asks while an essential breaker is open (a value, or a function of the
   * message).
   */
  breaker?: (BreakerOptions & { fallback?: unknown }) | false;
}

/** The resolved per-child settings a cell carries. */
export interface ChildSpec {
  readonly restart: RestartType;
  readonly shutdownMs: number;
  readonly maxMessageCrashes: number;
  readonly essential: boolean;
  readonly snapshot: ReturnType<typeof snapshotConfig>;
  readonly partners: readonly string[];
  /** Validated breaker options; false for no breaker. */
  readonly breaker: ResolvedBreakerOptions | false;
  /** What an essential breaker answers while open. */
  readonly fallback: unknown;
}

export const DEFAULT_CHILD_SPEC: ChildSpec = Object.freeze({
  restart: 'permanent',
  shutdownMs: 5000,
  maxMessageCrashes: 1,
  essential: false,
  snapshot: null,
  partners: Object.freeze([]) as readonly string[],
  breaker: BREAKER_DEFAULTS,
  fallback: undefined,
});

export interface SupervisorOptions {
  strategy: Strategy;
  intensity?: Intensity;
  backoff?: BackoffOptions;
  children: TreeSpec[];
  restart?: RestartType;
  shutdownMs?: number;
}

export interface WorkerSpec {
  readonly kind: 'worker';
  readonly name: string;
  readonly behavior: Behavior;
  readonly options: ChildOptions;
}

export interface SupervisorSpec {
  readonly kind: 'supervisor';
  readonly name: string;
  readonly options: SupervisorOptions;
}

export type TreeSpec = WorkerSpec | SupervisorSpec | PoolSpec;

export function supervisor(name: string, options: SupervisorOptions): SupervisorSpec {
  return { kind: 'supervisor', name, options };
}

export function child<A>(name: string, behavior: Behavior<any, any, A>, options: ChildOptions<A> = {}): WorkerSpec {
  return { kind: 'worker', name, behavior, options };
}

/** The settings by which a cell supervises its children. */
export interface SupervisionConfig {
  readonly strategy: Strategy;
  readonly intensity: Intensity;
  readonly backoff: Required<BackoffOptions> | null;
}

export const DEFAULT_SUPERVISION: SupervisionConfig = Object.freeze({
  strategy: 'one-for-one',
  intensity: Object.freeze({ maxRestarts: 3, withinMs: 5000 }),
  backoff: null,
});

// ---- Validation (all of it before anything runs) -----------------------------------------

const STRATEGIES: Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];
const RESTARTS: RestartType[] = ['permanent', 'transient', 'temporary'];
export const CHILD_KEYS = ['args', 'restart', 'shutdownMs', 'maxMessageCrashes', 'essential', 'mailbox', 'snapshot', 'partners', 'breaker'];

const specCache = new WeakMap<object, ChildSpec>();

export function childSpec(options: ChildOptions | undefined, at: string): ChildSpec {
  if (options === undefined) return DEFAULT_CHILD_SPEC;
  const cached = specCache.get(options);
  if (cached) return cached;
  if (options.restart !== undefined && !RESTARTS.includes(options.restart)) {
    throw new ConfigError(`${at}restart`, `must be one of ${RESTARTS.join(', ')} (got ${String(options.restart)})`);
  }
  if (options.essential !== undefined && typeof options.essential !== 'boolean') throw new ConfigError(`${at}essential`, 'must be a boolean');
  const spec: ChildSpec =
    options.restart === undefined &&
    options.shutdownMs === undefined &&
    options.maxMessageCrashes === undefined &&
    options.essential === undefined &&
    options.snapshot === undefined &&
    options.partners === undefined &&
    options.breaker === undefined
      ? DEFAULT_CHILD_SPEC
      : Object.freeze({
          restart: options.restart ?? DEFAULT_CHILD_SPEC.restart,
          shutdownMs: options.shutdownMs === undefined ? DEFAULT_CHILD_SPEC.shutdownMs : positiveNumber(`${at}shutdownMs`, options.shutdownMs),
          maxMessageCrashes:
            options.maxMessageCrashes === undefined ? 1 : positiveInteger(`${at}maxMessageCrashes`, options.maxMessageCrashes),
          essential: options.essential ?? false,
          snapshot: snapshotConfig(options.snapshot, at),
          partners: Object.freeze(checkPartners(options.partners, at)),
          ...childBreaker(options.breaker, options.essential, at),
        });
  specCache.set(options, spec);
  return spec;
}

function childBreaker(option: ChildOptions['breaker'], essential: boolean | undefined, at: string): Pick<ChildSpec, 'breaker' | 'fallback'> {
  if (option === false) return { breaker: false, fallback: undefined };
  if (option === undefined) {
    return { breaker: essential ? breakerOptions({ essential: true }, `${at}breaker`) : BREAKER_DEFAULTS, fallback: undefined };
  }
  checkObject(`${at}breaker`, option);
  const { fallback, ...rest } = option;
  // An essential child gets an essential breaker unless its options say otherwise.
  const options = essential && rest.essential === undefined ? { ...rest, essential: true } : rest;
  return { breaker: breakerOptions(options, `${at}breaker`), fallback };
}

export function supervisionConfig(options: SupervisorOptions, at: string): SupervisionConfig {
  if (!STRATEGIES.includes(options.strategy)) {
    throw new ConfigError(`${at}strategy`, `must be one of ${STRATEGIES.join(', ')} (got ${String(options.strategy)})`);
  }
  let intensity = DEFAULT_SUPERVISION.intensity;
  if (options.intensity !== undefined) {
    checkObject(`${at}intensity`, options.intensity);
    const { maxRestarts, withinMs } = options.intensity;
    if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
      throw new ConfigError(`${at}intensity.maxRestarts`, `must be an integer ≥ 0 (got ${String(maxRestarts)})`);
    }
    intensity = Object.freeze({ maxRestarts, withinMs: positiveNumber(`${at}intensity.withinMs`, withinMs) });
  }
  let backoff: Required<BackoffOptions> | null = null;
  if (options.backoff !== undefined) {
    const b = options.backoff;
    checkObject(`${at}backoff`, b);
    knownKeys(`${at}backoff`, b, ['minMs', 'maxMs', 'factor', 'jitter', 'resetAfterMs']);
    const minMs = positiveNumber(`${at}backoff.minMs`, b.minMs);
    const maxMs = positiveNumber(`${at}backoff.maxMs`, b.maxMs);
    if (maxMs < minMs) throw new ConfigError(`${at}backoff.maxMs`, `must be ≥ minMs (${minMs}), got ${maxMs}`);
    const factor = b.factor ?? 2;
    if (typeof factor !== 'number' || !(factor >= 1)) throw new ConfigError(`${at}backoff.factor`, `must be a number ≥ 1 (got ${String(b.factor)})`);
    const jitter = b.jitter ?? 0.2;
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new ConfigError(`${at}backoff.jitter`, `must be between 0 and 1 (got ${String(b.jitter)})`);
    const resetAfterMs = b.resetAfterMs === undefined ? maxMs : positiveNumber(`${at}backoff.resetAfterMs`, b.resetAfterMs);
    backoff = Object.freeze({ minMs, maxMs, factor, jitter, resetAfterMs });
  }
  return Object.freeze({ strategy: options.strategy, intensity, backoff });
}

/**
 * Checks a whole tree; throws a ConfigError naming the option (with its path in the tree).
 * Iterative, so that a tree of any depth is checked without growing the stack.
 */
export function validateTree(root: TreeSpec): void {
  const stack: [TreeSpec, string][] = [[root, '/']];
  while (stack.length > 0) {
    const [spec, at] = stack.pop()!;
    const path = validateNode(spec, at);
    if (spec.kind !== 'supervisor') continue;
    const names = new Set<string>();
    const children = spec.options.children;
    for (let i = children.length - 1; i >= 0; i--) {
      const node = children[i]!;
      if (node !== null && typeof node === 'object' && typeof node.name === 'string') {
        if (names.has(node.name)) throw new ConfigError(`${path}: children`, `duplicate child name '${node.name}'`);
        names.add(node.name);
      }
      stack.push([node, path]);
    }
  }
}

/** Checks one node's own options; returns its path. */
function validateNode(spec: TreeSpec, at: string): string {
  if (spec === null || typeof spec !== 'object' || !['worker', 'supervisor', 'pool'].includes(spec.kind)) {
    throw new ConfigError(at, 'is not a tree node made by supervisor(…), child(…) or pool(…)');
  }
  const path = `${at === '/' ? '' : at}/${checkName(`name of ${at} child`, spec.name)}`;
  const where = `${path}: `;
  if (spec.kind === 'worker' || spec.kind === 'pool') {
    if (!isBehavior(spec.behavior)) throw new ConfigError(`${where}behavior`, 'is not a behavior made by defineActor');
    if (spec.kind === 'pool') checkPoolOptions(spec.options, where);
    else checkObject(`${where}options`, spec.options);
    knownKeys(`${path} options`, spec.options, spec.kind === 'pool' ? poolKeys() : CHILD_KEYS);
    childSpec(spec.options, where);
    mailboxConfig(spec.options.mailbox, `${where}mailbox`);
    return path;
  }
  checkObject(`${where}options`, spec.options);
  knownKeys(`${path} options`, spec.options, ['strategy', 'intensity', 'backoff', 'children', 'restart', 'shutdownMs']);
  supervisionConfig(spec.options, where);
  childSpec({ restart: spec.options.restart, shutdownMs: spec.options.shutdownMs }, where);
  if (!Array.isArray(spec.options.children)) throw new ConfigError(`${where}children`, 'must be an array of tree nodes');
  return path;
}

/** The actor behind a `supervisor(…)` node: its init starts the children in order. */
export const SupervisorActor: Behavior<null, unknown, SupervisorSpec> = defineActor<null, unknown, SupervisorSpec>({
  // Not an `async` function: a supervisor asks no one, so its init needs no tracked run.
  init: (spec, ctx) => startChildren(spec, ctx as unknown as ActorContext),
  receive() {},
});

/**
 * OTP's start order: each child starts once the previous one's init has settled (running, or
 * given up); the supervisor is running once all have. The await per child also keeps a deep
 * tree's start off the stack: each level continues on a microtask.
 */
async function startChildren(spec: SupervisorSpec, ctx: ActorContext): Promise<null> {
  const cell = ctx.cell;
  cell.supervision = new Supervision(cell.system, supervisionConfig(spec.options, ''), cell);
  for (const node of spec.options.children) {
    await null;
    if (!ctx.current || cell.status !== Status.Starting) break; // this incarnation is ending
    await cell.system.spawnNode(node, cell).whenStarted();
  }
  return null;
}

/** Raised to a supervisor's parent when the supervisor exceeded its restart intensity. */
export class EscalationError extends GenesisError {
  constructor(
    readonly path: string,
    readonly child: string,
    readonly reason: ExitReason,
  ) {
    super('ESCALATION', `${path} exceeded its restart intensity (last failure: ${child})`, {
      cause: typeof reason === 'object' ? reason.error : undefined,
    });
  }
}

export function isCrash(reason: ExitReason): reason is { error: unknown } {
  return typeof reason === 'object';
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
export class Supervision {
  private readonly window = new RestartWindow();
  /**
   * At the root, each top-level actor has its own window: unrelated actors spawned with
   * `system.spawn` must not use up each other's restarts (there is no application to fail).
   */
  private readonly windows = new WeakMap<ActorCell, RestartWindow>();
  /** Backoff delays in progress, cancelled when the supervisor itself ends. */
  private readonly pending = new Set<{ timer: unknown; resolve: () => void }>();

  constructor(
    readonly system: ActorSystem,
    readonly config: SupervisionConfig,
    /** The supervising actor; null for the system's root supervisor. */
    readonly owner: ActorCell | null,
  ) {}

  /**
   * A child exited on its own: a crash, or a normal exit (`ctx.stop()`). Decides — stop it for
   * good, restart it (and the siblings its strategy names), or escalate — and logs a report.
   */
  onChildExit(child: ActorCell, reason: ExitReason, where: string): void {
    const crashed = isCrash(reason);
    const type = child.spec.restart;
    const wanted = type === 'permanent' || (type === 'transient' && crashed);
    // No restarts under a supervisor that is itself ending, nor during system shutdown.
    const decision = !wanted || this.ownerLeaving ? 'stop' : this.recordRestart(this.system.clock.now(), child) ? 'escalate' : 'restart';
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
      if (crashed) log.error({ ...report, err: reason.error }, `crash report: ${child.path} crashed in ${where}; ${decision}`);
      else log.info(report, `${child.path} exited normally; ${decision}`);
    }
    if (decision === 'stop') void child.stopForGood(reason);
    else if (decision === 'escalate') this.escalate(child, reason);
    else void this.restart(child, reason);
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
  backoffDelay(cell: ActorCell, now: number): number {
    const backoff = this.config.backoff;
    if (backoff === null) return 0;
    if (now - cell.startedAt >= backoff.resetAfterMs) cell.backoffStep = 0;
    const base = Math.min(backoff.maxMs, backoff.minMs * backoff.factor ** cell.backoffStep);
    cell.backoffStep++;
    const spread = backoff.jitter * (2 * this.system.random() - 1);
    return Math.min(backoff.maxMs, Math.max(0, base * (1 + spread)));
  }

  /** Children that are not stopping or stopped, in start order. */
  private children(): ActorCell[] {
    const map = this.owner === null ? this.system.topLevel : this.owner.children;
    return map === null ? [] : [...map.values()].filter((c) => c.isActive);
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
  private async restart(failed: ActorCell, reason: ExitReason): Promise<void> {
    const victims = this.victims(failed, this.children());
    const plan = {};
    for (const v of victims) {
      v.plan = plan;
      if (v.status === Status.Running || v.status === Status.Starting) v.status = Status.Restarting;
    }
    const delay = this.backoffDelay(failed, this.system.clock.now());
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
      if (v.plan !== plan || v.status !== Status.Restarting) continue;
      v.plan = null;
      v.reinit();
      await v.whenStarted();
    }
  }

  /** Too many restarts: at the root the system records it; elsewhere the owner fails upward. */
  private escalate(child: ActorCell, reason: ExitReason): void {
    if (this.owner === null) {
      this.system.recordEscalation(child, reason);
      void child.stopForGood(reason, true);
      return;
    }
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
