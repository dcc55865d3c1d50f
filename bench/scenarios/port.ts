/**
 * Contestant A: a faithful port of the seeds' original coordinator, plain TypeScript, no Genesis.
 *
 * - `request(component, method, payload)` awaits the handler against a 5 s timer
 *   (Promise.race) and returns null on timeout or error; the handler keeps running after the
 *   timeout — the original's behaviour.
 * - `emit(topic, data, source)` awaits every subscriber in turn, never the source.
 * - The router picks gateways round-robin and retries with backoff `base × 2^attempt` + jitter,
 *   3 attempts; no breaker, no cancellation.
 * - The portfolio books fills in memory and checkpoints a copy of its state every second; a crash
 *   restores the last checkpoint (bookings since then are lost). Other components restart empty.
 */
import { seededRandom } from '../../actors/rng.js';
import { bump, type Claim, type Contestant, type ContestantReport } from './contestant.js';
import type { Component, Fill, Intent, Order, Venue, World } from './world.js';

const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_BASE_MS = 100;
const ATTEMPTS = 3;
const CHECKPOINT_EVERY_MS = 1_000;
const TIMED_OUT = Symbol('timed out');

abstract class PortComponent {
  restarts = 0;
  constructor(readonly name: Component) {}
  abstract handle(method: string, payload: unknown): Promise<unknown>;
  onEvent(_topic: string, _data: unknown): Promise<void> {
    return Promise.resolve();
  }
  /** After a crash: back to the last checkpoint (nothing to restore for stateless components). */
  restart(): void {
    this.restarts++;
  }
}

class Coordinator {
  private readonly components = new Map<string, PortComponent>();
  private readonly subscribers = new Map<string, PortComponent[]>();
  readonly counters: Record<string, number | string> = {};

  register(component: PortComponent): void {
    this.components.set(component.name, component);
  }

  subscribe(topic: string, component: PortComponent): void {
    const list = this.subscribers.get(topic) ?? [];
    list.push(component);
    this.subscribers.set(topic, list);
  }

  async request(name: string, method: string, payload: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    const component = this.components.get(name);
    if (component === undefined) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
    });
    const work = component.handle(method, payload).catch((error: unknown) => {
      this.crashed(component, error);
      throw error;
    });
    try {
      const result = await Promise.race([work, timeout]);
      if (result === TIMED_OUT) {
        bump(this.counters, `timeout.${name}`);
        return null; // the handler goes on running
      }
      return result;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async emit(topic: string, data: unknown, source: string): Promise<void> {
    for (const subscriber of this.subscribers.get(topic) ?? []) {
      if (subscriber.name === source) continue;
      try {
        await subscriber.onEvent(topic, data);
      } catch (error) {
        this.crashed(subscriber, error);
      }
    }
  }

  private crashed(component: PortComponent, _error: unknown): void {
    bump(this.counters, `crash.${component.name}`);
    component.restart();
  }

  get restarts(): number {
    let n = 0;
    for (const c of this.components.values()) n += c.restarts;
    return n;
  }
}

class Ingress extends PortComponent {
  constructor(
    private readonly world: World,
    private readonly coordinator: Coordinator,
  ) {
    super('ingress');
  }

  async handle(_method: string, payload: unknown): Promise<Claim> {
    const intent = payload as Intent;
    await this.world.enter('ingress', { key: intent.id });
    const verdict = (await this.coordinator.request('risk', 'check', intent)) as { approved: boolean } | null;
    if (verdict === null) return { status: 'failed', reason: 'risk: no result' };
    if (!verdict.approved) return { status: 'not-placed', reason: 'risk: rejected' };
    const result = (await this.coordinator.request('router', 'route', intent)) as Claim | null;
    return result ?? { status: 'failed', reason: 'router: no result' };
  }
}

class Risk extends PortComponent {
  constructor(private readonly world: World) {
    super('risk');
  }

  async handle(_method: string, payload: unknown): Promise<{ approved: boolean }> {
    await this.world.enter('risk', { key: (payload as Intent).id });
    return { approved: true };
  }
}

class Router extends PortComponent {
  private next = 0;
  constructor(
    private readonly world: World,
    private readonly coordinator: Coordinator,
    private readonly random: () => number,
  ) {
    super('router');
  }

  async handle(_method: string, payload: unknown): Promise<Claim> {
    const intent = payload as Intent;
    await this.world.enter('router', { key: intent.id });
    let fill: Fill | null = null;
    for (let attempt = 0; attempt < ATTEMPTS && fill === null; attempt++) {
      if (attempt > 0) {
        bump(this.coordinator.counters, 'retries');
        const backoff = RETRY_BASE_MS * 2 ** (attempt - 1);
        await new Promise((resolve) => setTimeout(resolve, backoff + this.random() * backoff * 0.1));
      }
      const venue = `g${this.next}` as Venue;
      this.next = (this.next + 1) % 3;
      fill = (await this.coordinator.request(venue, 'place', { ...intent, venue } satisfies Order)) as Fill | null;
    }
    if (fill === null) return { status: 'failed', reason: `gateways: no result after ${ATTEMPTS} attempts` };
    const booked = await this.coordinator.request('portfolio', 'book', fill);
    if (booked === null) return { status: 'failed', reason: 'portfolio: no result' };
    return { status: 'filled', fill };
  }
}

class Gateway extends PortComponent {
  constructor(
    private readonly world: World,
    readonly venue: Venue,
  ) {
    super(venue);
  }

  async handle(_method: string, payload: unknown): Promise<Fill> {
    const order = payload as Order;
    await this.world.enter(this.venue, { key: order.id });
    return this.world.exchange.place(order);
  }
}

class Portfolio extends PortComponent {
  state = new Map<string, number>();
  private checkpoint = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  lostOnRestore = 0;

  constructor(
    private readonly world: World,
    private readonly coordinator: Coordinator,
  ) {
    super('portfolio');
    this.timer = setInterval(() => {
      this.checkpoint = new Map(this.state);
    }, CHECKPOINT_EVERY_MS);
  }

  async handle(method: string, payload: unknown): Promise<unknown> {
    if (method !== 'book') return [...this.state.keys()];
    const fill = payload as Fill;
    await this.world.enter('portfolio', { key: fill.id });
    this.state.set(fill.id, fill.price);
    await this.coordinator.emit('trade.booked', fill, 'portfolio');
    return true;
  }

  override restart(): void {
    super.restart();
    this.lostOnRestore += Math.max(0, this.state.size - this.checkpoint.size);
    this.state = new Map(this.checkpoint);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

class Notifier extends PortComponent {
  constructor(
    private readonly world: World,
    name: 'audit' | 'monitor',
  ) {
    super(name);
  }

  handle(): Promise<unknown> {
    return Promise.resolve(null);
  }

  override async onEvent(_topic: string, data: unknown): Promise<void> {
    const fill = data as Fill;
    await this.world.enter(this.name, { key: fill.id });
    this.world.notify(this.name as 'audit' | 'monitor', fill.id);
  }
}

export function portContestant(world: World, seed: number): Contestant {
  const coordinator = new Coordinator();
  let portfolio: Portfolio | null = null;
  return {
    name: 'port',
    async start() {
      const random = seededRandom(seed ^ 0x9e3779b9);
      portfolio = new Portfolio(world, coordinator);
      const audit = new Notifier(world, 'audit');
      const monitor = new Notifier(world, 'monitor');
      for (const c of [new Ingress(world, coordinator), new Risk(world), new Router(world, coordinator, random), portfolio, audit, monitor]) coordinator.register(c);
      for (const venue of ['g0', 'g1', 'g2'] as const) coordinator.register(new Gateway(world, venue));
      coordinator.subscribe('trade.booked', audit);
      coordinator.subscribe('trade.booked', monitor);
    },
    async submit(intent) {
      // The original's entry point: a request with its 5 s timeout; null is its only failure signal.
      const result = (await coordinator.request('ingress', 'submit', intent)) as Claim | null;
      return result ?? { status: 'failed', reason: 'no result (timeout or crash)' };
    },
    async finish(): Promise<ContestantReport> {
      portfolio!.stop();
      const diagnostics = { ...coordinator.counters, 'portfolio.bookingsLostOnRestore': portfolio!.lostOnRestore };
      return { booked: [...portfolio!.state.keys()], restarts: coordinator.restarts, modes: ['–'], diagnostics };
    },
  };
}
