/**
 * The world outside both contestants: the exchange (three venues, one order at a time each,
 * idempotent by order id), the fault schedule every component passes through
 * (`world.enter(component)`), and the notification sink the audit and monitor components write to.
 * The world records every execution and every notification; the judge decides outcomes from those
 * records, never from what a contestant says about itself alone.
 *
 * Every random draw is a pure function of (seed, what, component or venue, order id, n-th call),
 * through actors/rng.ts, so both contestants meet exactly the same faults and service times for
 * the same orders, whatever order they make their calls in.
 */
import { seededRandom } from '../../actors/rng.js';

export const VENUES = ['g0', 'g1', 'g2'] as const;
export type Venue = (typeof VENUES)[number];

/** The components of the pipeline, in the order an event meets them. */
export const COMPONENTS = ['ingress', 'risk', 'router', 'g0', 'g1', 'g2', 'portfolio', 'audit', 'monitor'] as const;
export type Component = (typeof COMPONENTS)[number];

/** An order intent, as the strategy side produces it. `at`: scheduled arrival, ms after the start. */
export interface Intent {
  id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  at: number;
}

export interface Order extends Intent {
  venue: Venue;
}

export interface Fill {
  id: string;
  venue: Venue;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  /** When it executed, ms after the start. */
  at: number;
}

/** One fault of the schedule: during [fromMs, toMs) every call of `component` meets it. */
export interface Fault {
  component: Component;
  kind: 'crash' | 'stall' | 'latency';
  fromMs: number;
  toMs: number;
  /** crash: probability per call (default 1: every call throws). */
  p?: number;
  /** latency: added delay per call, uniform in [lo, hi] ms. */
  latencyMs?: [number, number];
}

/** What a component's handler throws when the schedule crashes it. */
export class ComponentCrash extends Error {
  constructor(readonly component: Component) {
    super(`${component} crashed (injected fault)`);
    this.name = 'ComponentCrash';
  }
}

/** The exchange refuses new work once the run is over. */
export class WorldClosed extends Error {
  constructor() {
    super('the exchange is closed (end of the run)');
    this.name = 'WorldClosed';
  }
}

/** FNV-1a over the parts, seeding the repo's PRNG: one uniform draw in [0, 1) per key. */
export function draw(seed: number, ...parts: (string | number)[]): number {
  let h = 0x811c9dc5 ^ seed;
  const text = parts.join('|');
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return seededRandom(h >>> 0)();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface Job {
  order: Order;
  signal: AbortSignal | undefined;
  state: 'queued' | 'serving' | 'done';
  resolve: (fill: Fill) => void;
  reject: (reason: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
  onAbort: (() => void) | null;
}

/** One venue: a FIFO queue, one order in service at a time. */
class VenueDesk {
  private queue: Job[] = [];
  private head = 0;
  private current: Job | null = null;
  /** Placements started, ended by an abort while queued / in service. */
  served = 0;
  abortedQueued = 0;
  abortedServing = 0;
  maxQueue = 0;

  constructor(
    readonly venue: Venue,
    private readonly exchange: Exchange,
  ) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  enqueue(job: Job): void {
    this.queue.push(job);
    this.maxQueue = Math.max(this.maxQueue, this.queued);
    if (this.current === null) this.next();
  }

  private next(): void {
    this.current = null;
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      if (job.state !== 'queued') continue; // aborted while waiting
      this.serve(job);
      break;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private serve(job: Job): void {
    job.state = 'serving';
    this.current = job;
    this.served++;
    const ms = this.exchange.serviceMs(this.venue, job.order.id);
    job.timer = setTimeout(() => {
      job.state = 'done';
      this.detach(job);
      if (this.exchange.closed) job.reject(new WorldClosed());
      else job.resolve(this.exchange.execute(job.order));
      this.next();
    }, ms);
  }

  abort(job: Job, reason: unknown): void {
    if (job.state === 'done') return;
    if (job.state === 'serving') {
      this.abortedServing++;
      if (job.timer !== null) clearTimeout(job.timer);
      job.state = 'done';
      job.reject(reason);
      this.next(); // a cancel frees the venue at once
      return;
    }
    this.abortedQueued++;
    job.state = 'done';
    job.reject(reason);
  }

  detach(job: Job): void {
    if (job.onAbort !== null) job.signal?.removeEventListener('abort', job.onAbort);
    job.onAbort = null;
  }

  close(): void {
    if (this.current?.timer) clearTimeout(this.current.timer);
    for (let i = this.head; i < this.queue.length; i++) {
      const job = this.queue[i]!;
      if (job.state === 'done') continue;
      job.state = 'done';
      this.detach(job);
      job.reject(new WorldClosed());
    }
    this.queue = [];
    this.head = 0;
  }
}

/** The external exchange: `place(order, { signal })` → the fill, executed at the end of service. */
export class Exchange {
  readonly executions = new Map<string, Fill>();
  /** Placements of an id already executed (answered with the same fill, not executed again). */
  duplicates = 0;
  /** Placements refused because their signal had already aborted. */
  abortedBeforeQueue = 0;
  closed = false;
  private readonly desks: Record<Venue, VenueDesk>;

  constructor(
    private readonly world: World,
    private readonly seed: number,
    private readonly serviceRange: [number, number],
  ) {
    this.desks = { g0: new VenueDesk('g0', this), g1: new VenueDesk('g1', this), g2: new VenueDesk('g2', this) };
  }

  place(order: Order, options: { signal?: AbortSignal } = {}): Promise<Fill> {
    const { signal } = options;
    if (this.closed) return Promise.reject(new WorldClosed());
    if (signal?.aborted) {
      this.abortedBeforeQueue++;
      return Promise.reject(signal.reason);
    }
    const done = this.executions.get(order.id);
    if (done !== undefined) {
      this.duplicates++;
      return Promise.resolve(done);
    }
    const desk = this.desks[order.venue];
    if (desk === undefined) return Promise.reject(new Error(`no venue ${String(order.venue)}`));
    return new Promise<Fill>((resolve, reject) => {
      const job: Job = { order, signal, state: 'queued', resolve, reject, timer: null, onAbort: null };
      if (signal !== undefined) {
        job.onAbort = () => desk.abort(job, signal.reason);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      desk.enqueue(job);
    });
  }

  /** Service time of `id` at `venue`, ms: seeded, the same for both contestants. */
  serviceMs(venue: Venue, id: string): number {
    const [lo, hi] = this.serviceRange;
    return lo + draw(this.seed, 'service', venue, id) * (hi - lo);
  }

  /** Executes at most once per id, whatever the venue: a second placement gets the same fill. */
  execute(order: Order): Fill {
    const done = this.executions.get(order.id);
    if (done !== undefined) {
      this.duplicates++;
      return done;
    }
    const fill: Fill = { id: order.id, venue: order.venue, symbol: order.symbol, side: order.side, qty: order.qty, price: order.price, at: this.world.now() };
    this.executions.set(order.id, fill);
    return fill;
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = { executed: this.executions.size, duplicates: this.duplicates, abortedBeforeQueue: this.abortedBeforeQueue };
    for (const venue of VENUES) {
      const d = this.desks[venue];
      out[`${venue}.served`] = d.served;
      out[`${venue}.abortedQueued`] = d.abortedQueued;
      out[`${venue}.abortedServing`] = d.abortedServing;
      out[`${venue}.maxQueue`] = d.maxQueue;
      out[`${venue}.leftQueued`] = d.queued;
    }
    return out;
  }

  close(): void {
    this.closed = true;
    for (const venue of VENUES) this.desks[venue].close();
  }
}

export interface WorldOptions {
  seed: number;
  faults: Fault[];
  /** Service time per order at a venue, uniform in [lo, hi] ms. */
  serviceMs?: [number, number];
}

export class World {
  readonly exchange: Exchange;
  readonly faults: readonly Fault[];
  /** Notifications written by the audit and monitor components: order id → count. */
  readonly notified = { audit: new Map<string, number>(), monitor: new Map<string, number>() };
  /** Faults met, by component and kind. */
  readonly met = new Map<string, number>();
  private readonly seed: number;
  private readonly byComponent = new Map<Component, Fault[]>();
  private readonly calls = new Map<string, number>();
  private t0 = performance.now();

  constructor(options: WorldOptions) {
    this.seed = options.seed;
    this.faults = options.faults;
    for (const fault of options.faults) {
      const list = this.byComponent.get(fault.component) ?? [];
      list.push(fault);
      this.byComponent.set(fault.component, list);
    }
    this.exchange = new Exchange(this, options.seed, options.serviceMs ?? [10, 20]);
  }

  /** Time 0 of the run. */
  begin(): void {
    this.t0 = performance.now();
  }

  /** ms since the start of the run. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** The performance.now() of a run time (deadlines of actors run on that clock). */
  clockAt(runMs: number): number {
    return this.t0 + runMs;
  }

  /**
   * Every component's handler awaits this first. By the schedule it throws (crash), hangs until
   * the stall ends (not abortable: a hung component ignores its callers), or adds latency (slow
   * I/O: abortable by `signal`, rejecting with its reason).
   */
  async enter(component: Component, options: { key?: string; signal?: AbortSignal } = {}): Promise<void> {
    const faults = this.byComponent.get(component);
    if (faults === undefined) return;
    const key = options.key ?? '';
    const callKey = `${component}|${key}`;
    const n = (this.calls.get(callKey) ?? 0) + 1;
    this.calls.set(callKey, n);
    for (const fault of faults) {
      const now = this.now();
      if (now < fault.fromMs || now >= fault.toMs) continue;
      const tag = `${component}.${fault.kind}`;
      if (fault.kind === 'crash') {
        if (draw(this.seed, 'crash', component, key, n) < (fault.p ?? 1)) {
          this.met.set(tag, (this.met.get(tag) ?? 0) + 1);
          throw new ComponentCrash(component);
        }
      } else if (fault.kind === 'stall') {
        this.met.set(tag, (this.met.get(tag) ?? 0) + 1);
        await sleep(fault.toMs - now);
      } else {
        const [lo, hi] = fault.latencyMs ?? [0, 0];
        this.met.set(tag, (this.met.get(tag) ?? 0) + 1);
        await sleep(lo + draw(this.seed, 'latency', component, key, n) * (hi - lo), options.signal);
      }
    }
  }

  /** The audit or monitor component recorded the booking of `id`. */
  notify(kind: 'audit' | 'monitor', id: string): void {
    const map = this.notified[kind];
    map.set(id, (map.get(id) ?? 0) + 1);
  }

  /** [from, to) of every fault, merged: the judge measures recovery from the last end. */
  faultEnd(): number | null {
    return this.faults.length === 0 ? null : Math.max(...this.faults.map((f) => f.toMs));
  }

  close(): void {
    this.exchange.close();
  }
}
