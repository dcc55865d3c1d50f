/**
 * The declarations of a supervision tree — `supervisor(…)`, `child(…)`, `pool(…)` — and the
 * validation of a supervisor's own settings (strategy, intensity, backoff).
 */
import type { Behavior, ExitReason } from '../core/actor.js';
import type { ChildOptions, RestartType } from '../core/spec.js';
import type { BreakerOptions } from '../resilience/breaker.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber } from '../util/options.js';

/**
 * Which children a supervisor restarts when one crashes: that child (`one-for-one`), all of them
 * (`one-for-all`: stopped in reverse start order, started again in start order), or that child and
 * those started after it (`rest-for-one`).
 *
 * @example
 * ```ts
 * supervisor('exchange', { strategy: 'one-for-all', children: [child('session', Session), child('orders', Orders)] });
 * ```
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/**
 * The restart intensity of a supervisor, a sliding window: more than `maxRestarts` restarts
 * within `withinMs` and it stops its children and fails to its parent (escalation). Default 3 in 5 s.
 *
 * @example
 * ```ts
 * supervisor('trading', { strategy: 'one-for-one', intensity: { maxRestarts: 5, withinMs: 10_000 }, children });
 * ```
 */
export interface Intensity {
  maxRestarts: number;
  withinMs: number;
}

/**
 * The delay before a restart: `min(maxMs, minMs × factor^n)` for the n-th consecutive restart,
 * scaled by a random factor in `[1 - jitter, 1 + jitter]` (never above maxMs), on the system
 * clock. Without it a supervisor restarts at once.
 *
 * @example
 * ```ts
 * supervisor('feeds', { strategy: 'one-for-one', backoff: { minMs: 10, maxMs: 2_000, factor: 2, jitter: 0.2 }, children });
 * ```
 */
export interface BackoffOptions {
  /** The first delay, ms. */
  minMs: number;
  /** The longest delay, ms (≥ minMs). */
  maxMs: number;
  /** Growth per consecutive restart (default 2). */
  factor?: number;
  /** Random spread, 0…1: the delay is scaled by a factor in [1 - jitter, 1 + jitter] (default 0.2). */
  jitter?: number;
  /** Running this long without a crash resets the growth (default maxMs). */
  resetAfterMs?: number;
}

/**
 * The settings of a supervisor: how it restarts its children, and its own restart type and stop
 * budget as a child of its parent.
 *
 * @example
 * ```ts
 * const options: SupervisorOptions = { strategy: 'rest-for-one', shutdownMs: 10_000, children: [child('feed', PriceFeed)] };
 * ```
 */
export interface SupervisorOptions {
  strategy: Strategy;
  intensity?: Intensity;
  backoff?: BackoffOptions;
  /** Started one after another, in this order, each once the previous one's init has settled. */
  children: TreeSpec[];
  /** The supervisor's own restart type under its parent (default 'permanent'). */
  restart?: RestartType;
  /** Bounds the stop of the whole subtree (default 5000 ms). */
  shutdownMs?: number;
}

/**
 * A declared worker, as `child(…)` returns it.
 *
 * @example
 * ```ts
 * const spec: WorkerSpec = child('decisions', DecisionLog);
 * ```
 */
export interface WorkerSpec {
  readonly kind: 'worker';
  readonly name: string;
  readonly behavior: Behavior;
  readonly options: ChildOptions;
}

/**
 * A declared supervisor, as `supervisor(…)` returns it; `system.start` starts it.
 *
 * @example
 * ```ts
 * const spec: SupervisorSpec = supervisor('trading', { strategy: 'one-for-one', children: [] });
 * ```
 */
export interface SupervisorSpec {
  readonly kind: 'supervisor';
  readonly name: string;
  readonly options: SupervisorOptions;
}

/**
 * A node of a declared supervision tree: a worker, a supervisor or a pool.
 *
 * @example
 * ```ts
 * const children: TreeSpec[] = [child('strategy', Strategy), pool('exchange', ExchangeAdapter, { size: 3 })];
 * ```
 */
export type TreeSpec = WorkerSpec | SupervisorSpec | PoolSpec;

/**
 * Declares a supervisor and its children, for `system.start(tree)` or as a node of another
 * tree. Nothing is validated or started here: `system.start` checks the whole tree first.
 *
 * @example
 * ```ts
 * const root = await system.start(
 *   supervisor('trading', { strategy: 'rest-for-one', children: [child('decisions', DecisionLog), child('strategy', Strategy)] }),
 * );
 * ```
 */
export function supervisor(name: string, options: SupervisorOptions): SupervisorSpec {
  return { kind: 'supervisor', name, options };
}

/**
 * Declares a worker: an actor of `behavior` named `name` under its supervisor, with its options
 * (`args` checked against the behavior's init).
 *
 * @example
 * ```ts
 * child('strategy', Strategy, { args: { symbol: 'BTC' }, restart: 'permanent', shutdownMs: 1_000 });
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any state and message; only the args must match
export function child<A>(name: string, behavior: Behavior<any, any, A>, options: ChildOptions<A> = {}): WorkerSpec {
  return { kind: 'worker', name, behavior, options };
}

/**
 * How a pool picks a worker: each in turn, or the one with the fewest asks in flight.
 *
 * @example
 * ```ts
 * pool('exchange', ExchangeAdapter, { size: 3, routing: 'least-busy' });
 * ```
 */
export type Routing = 'round-robin' | 'least-busy';

/**
 * Hedged asks in a pool: another worker gets a copy of an ask that is slower than the threshold;
 * the first reply wins and the other asks are aborted.
 *
 * @example
 * ```ts
 * pool('exchange', ExchangeAdapter, { size: 3, hedge: { afterMs: 'p95', max: 2, initialMs: 50 } });
 * ```
 */
export interface HedgeOptions {
  /** Start another attempt when one has taken this long: ms, or 'p95' of the pool's latency. */
  afterMs: number | 'p95';
  /** Attempts in parallel at most, 2…3 (default 2). */
  max?: number;
  /** The threshold while fewer than 20 latencies are known, for 'p95' (default 100 ms). */
  initialMs?: number;
}

/**
 * The options of a pool: its workers' options (`args`, `breaker`, `mailbox`, …; no snapshots) and
 * the pool's own.
 *
 * @example
 * ```ts
 * pool('exchange', ExchangeAdapter, { size: 3, routing: 'least-busy', breaker: { failureThreshold: 3 } });
 * ```
 */
export interface PoolOptions<A = unknown> extends Omit<ChildOptions<A>, 'snapshot' | 'partners'> {
  /** Number of workers (`/<pool>/0`, `/1`, …). */
  size: number;
  /** Default 'round-robin'. */
  routing?: Routing;
  hedge?: HedgeOptions;
  /** Restart intensity of the pool over its workers (default 3 × size within 5 s). */
  intensity?: Intensity;
  /**
   * A breaker on the pool itself, apart from its workers' (which `breaker` configures). Default
   * false: the workers' breakers already keep asks off a failing worker, and timeouts at the pool
   * (a slow request, a caller's short deadline) must not refuse what healthy workers can answer.
   */
  poolBreaker?: BreakerOptions | false;
  /**
   * Admission control: asks in flight per worker the pool admits (default: no limit). Beyond it
   * an ask is refused at once with OverloadedError — the caller can degrade now instead of timing
   * out later — lowest priorities first: priority 3 is admitted up to ¾ of the limit, 4 up to ½.
   */
  maxInFlight?: number;
}

/**
 * A declared pool, as `pool(…)` returns it.
 *
 * @example
 * ```ts
 * const spec: PoolSpec = pool('exchange', ExchangeAdapter, { size: 3 });
 * ```
 */
export interface PoolSpec {
  readonly kind: 'pool';
  readonly name: string;
  readonly behavior: Behavior;
  readonly options: PoolOptions;
}

/**
 * Declares a pool: `size` identical workers of `behavior` behind one ref, restarted one for one.
 * A tell goes to one worker; an ask to one worker (failed over to another if it fails, hedged
 * with `hedge`).
 *
 * @example
 * ```ts
 * const exchange = await system.start(pool('exchange', ExchangeAdapter, { size: 3, hedge: { afterMs: 'p95', max: 2 } }));
 * const fill = await exchange.ask({ type: 'place', order }, { timeoutMs: 300 });
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any behavior whose init takes A
export function pool<A>(name: string, behavior: Behavior<any, any, A>, options: PoolOptions<A>): PoolSpec {
  return { kind: 'pool', name, behavior, options };
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

const STRATEGIES: Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];

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

export function isCrash(reason: ExitReason): reason is { error: unknown } {
  return typeof reason === 'object';
}
