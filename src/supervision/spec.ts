/**
 * The declarations of a supervision tree — `supervisor(…)`, `child(…)`, `pool(…)` — and the
 * validation of a supervisor's own settings (strategy, intensity, backoff).
 */
import type { Behavior, ExitReason } from '../core/actor.js';
import type { ChildOptions, RestartType } from '../core/spec.js';
import type { BreakerOptions } from '../resilience/breaker.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber } from '../util/options.js';

export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

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

export type Routing = 'round-robin' | 'least-busy';

export interface HedgeOptions {
  /** Start another attempt when one has taken this long: ms, or 'p95' of the pool's latency. */
  afterMs: number | 'p95';
  /** Attempts in parallel at most, 2…3 (default 2). */
  max?: number;
  /** The threshold while fewer than 20 latencies are known, for 'p95' (default 100 ms). */
  initialMs?: number;
}

export interface PoolOptions<A = unknown> extends Omit<ChildOptions<A>, 'snapshot' | 'partners'> {
  size: number;
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
}

export interface PoolSpec {
  readonly kind: 'pool';
  readonly name: string;
  readonly behavior: Behavior;
  readonly options: PoolOptions;
}

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

