/**
 * Pools: a supervised group of identical workers behind one ref. The pool actor routes each
 * message to a worker (round-robin, or the least busy one) and, for asks with `hedge`, sends a
 * second copy to another worker when the first is slower than the threshold: the first reply
 * wins, the others are aborted. A worker that fails an ask (crash, open breaker) is failed over
 * at once while attempts remain. Crashed workers are restarted by the pool (one-for-one) while
 * the others keep serving.
 */
import { type Behavior, defineActor, type DeferredReply } from './actor.js';
import type { ActorCell } from './cell.js';
import { type BreakerOptions, breakerOptions } from './breaker.js';
import { ConfigError } from './errors.js';
import { LatencyHistogram } from './latency.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from './options.js';
import type { ActorRef } from './ref.js';
import {
  CHILD_KEYS,
  type ChildOptions,
  type ChildSpec,
  child,
  childSpec,
  DEFAULT_SUPERVISION,
  type Intensity,
  Supervision,
  type SupervisionConfig,
  supervisionConfig,
} from './supervisor.js';
import type { ActorContext } from './context.js';

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

export function pool<A>(name: string, behavior: Behavior<any, any, A>, options: PoolOptions<A>): PoolSpec {
  return { kind: 'pool', name, behavior, options };
}

/** Options a pool node accepts (a function: pool.ts and supervisor.ts import each other). */
export function poolKeys(): string[] {
  return [...CHILD_KEYS.filter((k) => k !== 'snapshot' && k !== 'partners'), 'size', 'routing', 'hedge', 'intensity', 'poolBreaker'];
}

/** The pool node's own ChildSpec (options already checked): its restart and shutdown, and its
 *  own breaker, none by default. Its other options (breaker, mailbox, …) are its workers'. */
export function poolNodeSpec(options: PoolOptions): ChildSpec {
  const { restart, shutdownMs, poolBreaker } = options;
  return childSpec({ restart, shutdownMs, breaker: poolBreaker ?? false }, '');
}

interface Hedge {
  afterMs: number | 'p95';
  max: number;
  initialMs: number;
}

export function checkPoolOptions(
  options: PoolOptions,
  at: string,
): { size: number; routing: Routing; hedge: Hedge | null; supervision: SupervisionConfig } {
  checkObject(`${at}options`, options);
  const size = positiveInteger(`${at}size`, options.size);
  const routing = options.routing ?? 'round-robin';
  if (routing !== 'round-robin' && routing !== 'least-busy') {
    throw new ConfigError(`${at}routing`, `must be 'round-robin' or 'least-busy' (got ${String(routing)})`);
  }
  let hedge: Hedge | null = null;
  if (options.hedge !== undefined) {
    const h = options.hedge;
    checkObject(`${at}hedge`, h);
    knownKeys(`${at}hedge`, h, ['afterMs', 'max', 'initialMs']);
    const afterMs = h.afterMs === 'p95' ? 'p95' : positiveNumber(`${at}hedge.afterMs`, h.afterMs);
    const max = h.max ?? 2;
    if (!Number.isInteger(max) || max < 2 || max > 3) throw new ConfigError(`${at}hedge.max`, `must be 2 or 3 parallel attempts (got ${String(h.max)})`);
    const initialMs = h.initialMs === undefined ? 100 : positiveNumber(`${at}hedge.initialMs`, h.initialMs);
    hedge = { afterMs, max, initialMs };
  }
  if (options.poolBreaker !== undefined && options.poolBreaker !== false) breakerOptions(options.poolBreaker, `${at}poolBreaker`);
  const supervision = options.intensity
    ? supervisionConfig({ strategy: 'one-for-one', intensity: options.intensity, children: [] }, at)
    : { ...DEFAULT_SUPERVISION, intensity: { maxRestarts: 3 * size, withinMs: 5000 } };
  return { size, routing, hedge, supervision };
}

interface PoolState {
  workers: ActorRef[];
  next: number;
  routing: Routing;
  hedge: Hedge | null;
  /** Asks in flight per worker (the pool's own, for least-busy). */
  inflight: Map<ActorRef, number>;
  latency: LatencyHistogram;
}

/** The actor behind a `pool(…)` node. */
export const PoolActor: Behavior<PoolState, unknown, PoolSpec> = defineActor<PoolState, unknown, PoolSpec>({
  init(spec, ctx) {
    const cell = (ctx as unknown as ActorContext).cell;
    const { size, routing, hedge, supervision } = checkPoolOptions(spec.options, '');
    const { size: _s, routing: _r, hedge: _h, intensity: _i, poolBreaker: _b, ...workerOptions } = spec.options;
    cell.supervision = new Supervision(cell.system, supervision, cell);
    const workers: ActorRef[] = [];
    for (let i = 0; i < size; i++) workers.push(cell.system.spawnNode(child(String(i), spec.behavior, workerOptions), cell).ref);
    return { workers, next: 0, routing, hedge, inflight: new Map(), latency: new LatencyHistogram({ window: 256 }) };
  },
  receive(state, message, ctx) {
    const cell = (ctx as unknown as ActorContext).cell;
    const ask = cell.currentAsk;
    const priority = cell.lane - 1; // the message keeps its priority (lane p + 1 holds priority p)
    if (ask === null) {
      pick(state, null)!.tell(message, { priority }); // never null: nothing is excluded
      return;
    }
    // The workers get what is left of the caller's deadline.
    route(state, cell, message, ctx.deferReply(), ask.deadline, priority);
  },
});

/**
 * A worker for the next attempt: not one already tried; one whose breaker is open or that is
 * restarting only when no other is left (it fails fast, or answers from an essential fallback).
 * Null once every worker was tried: the ask must end, never go round again.
 */
function pick(state: PoolState, exclude: Set<ActorRef> | null): ActorRef | null {
  const { workers } = state;
  let best: ActorRef | null = null;
  let bestLoad = Infinity;
  let spare: ActorRef | null = null;
  for (let k = 0; k < workers.length; k++) {
    const worker = workers[(state.next + k) % workers.length]!;
    if (exclude?.has(worker)) continue;
    if (worker.cell.breaker?.state === 'open' || !worker.alive) {
      spare ??= worker;
      continue;
    }
    if (state.routing === 'round-robin') {
      best = worker;
      break;
    }
    const load = (state.inflight.get(worker) ?? 0) + worker.cell.mailbox.size;
    if (load < bestLoad) {
      best = worker;
      bestLoad = load;
    }
  }
  best ??= spare;
  if (best !== null) state.next = (workers.indexOf(best) + 1) % workers.length;
  return best;
}

/** Runs an ask against the workers: hedged after the threshold, failed over on an error. */
function route(state: PoolState, cell: ActorCell, message: unknown, reply: DeferredReply, deadline: number, priority: number): void {
  const clock = cell.system.clock;
  const hedge = state.hedge;
  const maxAttempts = hedge?.max ?? 1;
  const tried = new Set<ActorRef>();
  const controllers: AbortController[] = [];
  let settled = false;
  let running = 0;
  let timer: unknown = null;
  let lastError: unknown;

  const finish = () => {
    settled = true;
    if (timer !== null) clock.clearTimeout(timer);
    for (const c of controllers) c.abort(); // the losers: their asks end, their workers are not waited for
  };
  const threshold = (): number => {
    if (hedge === null) return Infinity;
    if (hedge.afterMs !== 'p95') return hedge.afterMs;
    return state.latency.count >= 20 ? state.latency.p95 : hedge.initialMs;
  };
  const armHedge = () => {
    if (hedge === null || tried.size >= maxAttempts) return;
    timer = clock.setTimeout(() => {
      timer = null;
      const worker = settled || tried.size >= maxAttempts ? null : pick(state, tried);
      if (worker !== null) launch(worker);
    }, threshold());
  };
  const launch = (worker: ActorRef) => {
    tried.add(worker);
    running++;
    state.inflight.set(worker, (state.inflight.get(worker) ?? 0) + 1);
    const controller = new AbortController();
    controllers.push(controller);
    const started = clock.now();
    const timeoutMs = Math.max(1, deadline - started);
    const done = () => {
      running--;
      state.inflight.set(worker, (state.inflight.get(worker) ?? 1) - 1);
    };
    cell.ask(worker, message, { timeoutMs, priority, signal: controller.signal }).then(
      (value) => {
        done();
        if (settled) return;
        state.latency.record(clock.now() - started);
        finish();
        reply(value);
      },
      (error: unknown) => {
        done();
        if (settled) return;
        lastError = error;
        const next = tried.size < maxAttempts ? pick(state, tried) : null;
        if (next !== null) {
          if (timer !== null) clock.clearTimeout(timer);
          launch(next); // fail over at once
        } else if (running === 0) {
          finish();
          reply.fail(lastError);
        }
      },
    );
    armHedge();
  };
  launch(pick(state, tried)!); // nothing tried yet: never null
}
