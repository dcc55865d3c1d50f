/**
 * Pools: a supervised group of identical workers behind one ref. The pool actor routes each
 * message to a worker (round-robin, or the least busy one) and, for asks with `hedge`, sends a
 * second copy to another worker when the first is slower than the threshold: the first reply
 * wins, the others are aborted. A worker that fails an ask (crash, open breaker) is failed over
 * at once while attempts remain; an ask ends once every worker it may try was tried. Crashed
 * workers are restarted by the pool (one-for-one) while the others keep serving. The workers'
 * breakers guard them; the pool has none of its own unless `poolBreaker` asks for one.
 *
 * Worker asks carry what is left of the caller's deadline (a new timeout value almost every
 * time: the deadline queue keeps such asks in a heap, not a list per value).
 */
import { defineActor, type DeferredReply, RUNTIME_BEHAVIORS } from '../core/actor.js';
import type { PendingAsk } from '../core/ask.js';
import { type ActorCell, cellOfContext } from '../core/cell.js';
import { mailboxConfig } from '../core/mailbox.js';
import type { ActorRef } from '../core/ref.js';
import { CHILD_KEYS, type ChildSpec, childSpec } from '../core/spec.js';
import { breakerOptions } from '../resilience/breaker.js';
import { LatencyHistogram } from '../resilience/latency.js';
import { ConfigError, OverloadedError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';
import { DEFAULT_SUPERVISION, type PoolOptions, type PoolSpec, type Routing, type SupervisionConfig, supervisionConfig } from './spec.js';
import { Supervision } from './supervision.js';

/** Options a pool node accepts. */
export const POOL_KEYS: readonly string[] = [
  ...CHILD_KEYS.filter((k) => k !== 'snapshot' && k !== 'partners'),
  'size',
  'routing',
  'hedge',
  'intensity',
  'poolBreaker',
  'maxInFlight',
];

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
): { size: number; routing: Routing; hedge: Hedge | null; supervision: SupervisionConfig; maxInFlight: number } {
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
  const maxInFlight = options.maxInFlight === undefined ? Infinity : positiveInteger(`${at}maxInFlight`, options.maxInFlight);
  return { size, routing, hedge, supervision, maxInFlight };
}

interface PoolState {
  workers: ActorRef[];
  next: number;
  routing: Routing;
  hedge: Hedge | null;
  /** Asks in flight per worker, by index (the pool's own, for least-busy). */
  inflight: number[];
  /** Latency of the winning attempts, for a 'p95' hedge threshold. */
  latency: LatencyHistogram;
  /** Asks admitted at priority 0–2 (maxInFlight × workers; Infinity: no admission control). */
  limit: number;
  /** Asks admitted and not yet answered, when there is a limit. */
  admitted: number;
}

/** The hedge of a pool without one while the system is in the latency mode. */
const LATENCY_MODE_HEDGE: Hedge = Object.freeze({ afterMs: 'p95', max: 2, initialMs: 100 });

/** The share of the limit each priority may fill: the lowest priorities are refused first. */
const ADMITTED_SHARE = [1, 1, 1, 0.75, 0.5];

/** The actor behind a `pool(…)` node. */
export const PoolActor = defineActor<PoolState, unknown, PoolSpec>({
  // Not an `async` function: the pool's init needs no tracked run (it asks no one).
  init: (spec, ctx) => startPool(spec, cellOfContext(ctx)),
  receive(state, message, ctx) {
    const cell = cellOfContext(ctx);
    const ask = cell.currentAsk;
    const priority = cell.lane - 1; // the message keeps its priority (lane p + 1 holds priority p)
    if (ask === null) {
      pick(state, null)!.tell(message, { priority }); // never null: nothing is excluded
      return;
    }
    // The workers get what is left of the caller's deadline.
    let reply = ctx.deferReply();
    if (state.limit !== Infinity) {
      const cap = Math.max(1, Math.floor(state.limit * ADMITTED_SHARE[priority]!));
      if (state.admitted >= cap) {
        reply.fail(new OverloadedError(cell.path, `${state.admitted} asks in flight, the limit at priority ${priority} is ${cap}`));
        cell.system.refused(cell);
        return;
      }
      reply = admitted(state, reply);
    }
    // The latency mode turns hedging on for every pool (slow but alive targets: race them).
    const hedge = state.hedge ?? (ctx.mode === 'latency' ? LATENCY_MODE_HEDGE : null);
    if (hedge === null) askOnce(state, cell, message, reply, ask.deadline, priority);
    else new HedgedAsk(state, hedge, cell, ask, message, reply, priority).launch(pick(state, null)!);
  },
});

RUNTIME_BEHAVIORS.add(PoolActor);

/** Starts the workers one after another, each once the previous one's init settled (OTP order). */
async function startPool(spec: PoolSpec, cell: ActorCell): Promise<PoolState> {
  const { size, routing, hedge, supervision, maxInFlight } = checkPoolOptions(spec.options, '');
  const { size: _s, routing: _r, hedge: _h, intensity: _i, poolBreaker: _b, maxInFlight: _m, ...workerOptions } = spec.options;
  cell.supervision = new Supervision(cell.system, supervision, cell);
  const workers: ActorRef[] = [];
  const workerSpec = childSpec(workerOptions, '');
  const mailbox = mailboxConfig(workerOptions.mailbox);
  for (let i = 0; i < size; i++) {
    const worker = cell.system.spawnCell(spec.behavior, String(i), workerOptions.args, mailbox, workerSpec, cell);
    workers.push(worker.ref);
    await worker.whenStarted();
  }
  return {
    workers,
    next: 0,
    routing,
    hedge,
    inflight: new Array<number>(size).fill(0),
    latency: new LatencyHistogram({ window: 256 }),
    limit: maxInFlight * size,
    admitted: 0,
  };
}

/** The reply of an admitted ask: its answer, or its failure, frees its place. */
function admitted(state: PoolState, reply: DeferredReply): DeferredReply {
  let done = false;
  const free = () => {
    if (!done) {
      done = true;
      state.admitted--;
    }
  };
  state.admitted++;
  const counted = ((value: unknown) => {
    free();
    return reply(value);
  }) as DeferredReply;
  counted.fail = (error: unknown) => {
    free();
    return reply.fail(error);
  };
  return counted;
}

/**
 * A worker for the next attempt: not one already tried; one whose breaker is open or that is
 * restarting only when no other is left (it fails fast, or answers from an essential fallback).
 * Null once every worker was tried: the ask must end, never go round again.
 */
function pick(state: PoolState, tried: ActorRef[] | null): ActorRef | null {
  const { workers } = state;
  const n = workers.length;
  let best = -1;
  let bestLoad = Infinity;
  let spare = -1;
  for (let k = 0; k < n; k++) {
    const i = (state.next + k) % n;
    const worker = workers[i]!;
    if (tried?.includes(worker)) continue;
    // Read through the ref's Target: a worker could live elsewhere.
    const target = worker.target;
    if (target.breakerState === 'open' || !target.isActive) {
      if (spare < 0) spare = i;
      continue;
    }
    if (state.routing === 'round-robin') {
      best = i;
      break;
    }
    const load = state.inflight[i]! + target.load;
    if (load < bestLoad) {
      best = i;
      bestLoad = load;
    }
  }
  if (best < 0) best = spare;
  if (best < 0) return null;
  state.next = (best + 1) % n;
  return workers[best]!;
}

/**
 * A worker free for a hedged attempt: not tried, not open nor restarting, nothing queued in its
 * mailbox nor held by an async handler (a worker that defers its replies may have asks in
 * flight and still be free). A hedge only uses spare capacity — under a burst every worker is busy
 * and hedging would double the load it is meant to relieve — so null when none is idle.
 */
function pickIdle(state: PoolState, tried: ActorRef[]): ActorRef | null {
  const { workers } = state;
  for (let k = 0; k < workers.length; k++) {
    const i = (state.next + k) % workers.length;
    const worker = workers[i]!;
    const target = worker.target;
    if (tried.includes(worker) || target.breakerState === 'open' || !target.isActive) continue;
    if (target.load === 0) {
      state.next = (i + 1) % workers.length;
      return worker;
    }
  }
  return null;
}

/**
 * An ask without hedge: one attempt, its outcome relayed. The hot path of a pool: no
 * AbortController, no timer, no clock read but the deadline's, and under round-robin no closure
 * (the reply's own functions are the callbacks).
 */
function askOnce(state: PoolState, cell: ActorCell, message: unknown, reply: DeferredReply, deadline: number, priority: number): void {
  const worker = pick(state, null)!;
  const asked = cell.ask(worker, message, { timeoutMs: Math.max(1, deadline - cell.system.clock.now()), priority });
  if (state.routing === 'round-robin') {
    asked.then(reply, reply.fail);
    return;
  }
  const i = state.workers.indexOf(worker);
  state.inflight[i]!++;
  asked.then(
    (value) => {
      state.inflight[i]!--;
      reply(value);
    },
    (error: unknown) => {
      state.inflight[i]!--;
      reply.fail(error);
    },
  );
}

/**
 * A hedged ask: attempts on distinct workers, another one when the running ones are slower than
 * the threshold and a worker is idle (see pickIdle), or at once when one fails; the first reply wins and the attempts still running
 * are aborted. It ends with the last error when every attempt it may start has failed.
 */
class HedgedAsk {
  private readonly tried: ActorRef[] = [];
  /** Per attempt (as `tried`), until it ends: aborting it tells its worker nobody waits. */
  private readonly controllers: (AbortController | null)[] = [];
  private running = 0;
  private settled = false;
  private timer: unknown = null;

  constructor(
    private readonly state: PoolState,
    private readonly hedge: Hedge,
    private readonly cell: ActorCell,
    /** The pool's deferred ask: later attempts are made on its behalf (deadlock detection). */
    private readonly ask: PendingAsk,
    private readonly message: unknown,
    private readonly reply: DeferredReply,
    private readonly priority: number,
  ) {}

  launch(worker: ActorRef): void {
    const { state, cell } = this;
    const clock = cell.system.clock;
    const n = this.tried.push(worker) - 1;
    const i = state.workers.indexOf(worker);
    const controller = new AbortController();
    this.controllers.push(controller);
    this.running++;
    state.inflight[i]!++;
    const started = clock.now();
    const ended = () => {
      this.running--;
      state.inflight[i]!--;
      this.controllers[n] = null;
    };
    const options = { timeoutMs: Math.max(1, this.ask.deadline - started), priority: this.priority, signal: controller.signal };
    cell.askFor(worker, this.message, options, this.ask).then(
      (value) => {
        ended();
        if (this.settled) return;
        state.latency.record(clock.now() - started);
        this.finish();
        this.reply(value);
      },
      (error: unknown) => {
        ended();
        if (this.settled) return;
        if (this.ask.settled) {
          // The caller left (gave up, or its deadline passed): no failover for nobody.
          this.finish();
          this.reply.fail(error);
          return;
        }
        const next = this.tried.length < this.hedge.max ? pick(state, this.tried) : null;
        if (next !== null)
          this.launch(next); // fail over at once
        else if (this.running === 0) {
          this.finish();
          this.reply.fail(error);
        }
      },
    );
    this.armHedge();
  }

  /** Starts another attempt after the threshold, while attempts remain. */
  private armHedge(): void {
    const clock = this.cell.system.clock;
    if (this.timer !== null) clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.tried.length >= this.hedge.max) return;
    this.timer = clock.setTimeout(() => {
      this.timer = null;
      const worker = this.settled || this.ask.settled ? null : pickIdle(this.state, this.tried);
      if (worker !== null) this.launch(worker);
      else if (!this.settled && !this.ask.settled) this.armHedge(); // none idle yet: look again later
    }, this.threshold());
  }

  private threshold(): number {
    const { afterMs, initialMs } = this.hedge;
    if (afterMs !== 'p95') return afterMs;
    return this.state.latency.count >= 20 ? this.state.latency.p95 : initialMs;
  }

  private finish(): void {
    this.settled = true;
    if (this.timer !== null) this.cell.system.clock.clearTimeout(this.timer);
    this.timer = null;
    // the losers: their asks end, their workers see their signal abort and are not waited for
    for (const controller of this.controllers) controller?.abort();
  }
}
