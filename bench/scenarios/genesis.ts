/**
 * Contestant B: the same trading pipeline built with Genesis, the way the README suggests, from
 * src/index.ts only. The tree (one-for-one, the demo's intensity and backoff):
 *
 *   /trading/audit, /trading/monitor        subscribers of `trade.booked` (ctx.subscribe)
 *   /trading/portfolio-replica              the portfolio's snapshot partner
 *   /trading/portfolio                      books fills; snapshot everyMessages: 1; publishes `trade.booked`
 *   /trading/gateways                       pool of 3 adapters (least-busy, hedged, maxInFlight),
 *                                           worker i places at venue g<i> with ctx.signal
 *   /trading/risk                           essential: while its breaker is open it answers the fallback
 *   /trading/router                         risk → resilient(place) → resilient(book); defers its reply
 *   /trading/ingress                        the strategy-side entry: forwards to the router
 *
 * Every component awaits `world.enter(name)` first, inside its handler, so an injected crash is an
 * actor crash (supervised) and a stall holds its mailbox. Nothing here works around the runtime.
 */
import { seededRandom } from '../../actors/rng.js';
import { type ActorRef, ActorSystem, type Context, child, defineActor, isGenesisError, pool, type ResilientFunction, resilient, supervisor } from '../../src/index.js';
import { bump, type Claim, type Contestant, type ContestantReport, codeOf, describe } from './contestant.js';
import type { Fill, Intent, Venue, World } from './world.js';

type Verdict = { approved: true } | { approved: false; reason: string };
type NotPlaced = { status: 'not-placed'; reason: string };
type RiskMsg = { type: 'check'; intent: Intent };
type PlaceMsg = { type: 'place'; order: Intent };
type PortfolioMsg = { type: 'book'; fill: Fill } | { type: 'booked' };

/** What the actors share with the harness (same process): the world and the counters. */
interface Env {
  world: World;
  counters: Record<string, number | string>;
  random: () => number;
  /** The router's place wrapper (its stats go into the report). */
  place?: ResilientFunction<[Intent, number], Fill | NotPlaced>;
}

const notPlaced = (reason: string): NotPlaced => ({ status: 'not-placed', reason });
/** Refusals the runtime makes so that the caller can degrade. */
const degradable = (error: unknown) => isGenesisError(error, 'OVERLOADED') || isGenesisError(error, 'CIRCUIT_OPEN');

function behaviors(env: Env) {
  const { world } = env;

  const Notifier = (kind: 'audit' | 'monitor') =>
    defineActor<null, never>({
      init: (_args, ctx) => {
        ctx.subscribe('trade.booked');
        return null;
      },
      receive() {},
      async onEvent(_state, event) {
        const { id } = event.data as { id: string };
        await world.enter(kind, { key: id });
        world.notify(kind, id);
      },
    });

  const Replica = defineActor<null, never>({ receive() {} });

  const Portfolio = defineActor<{ booked: Map<string, number> }, PortfolioMsg>({
    init: () => ({ booked: new Map() }),
    async receive(state, msg, ctx) {
      if (msg.type === 'booked') {
        ctx.reply([...state.booked.keys()]);
        return;
      }
      await world.enter('portfolio', { key: msg.fill.id });
      state.booked.set(msg.fill.id, msg.fill.price);
      ctx.reply(true);
      ctx.publish('trade.booked', { id: msg.fill.id });
      return state;
    },
  });

  // An adapter waiting on the exchange defers its reply (the README's advice for I/O-bound
  // actors): its mailbox keeps flowing, so a slow venue holds its own calls, not the adapter;
  // the pool's maxInFlight bounds the calls in flight per adapter.
  const Gateway = defineActor<null, PlaceMsg>({
    receive(_state, msg, ctx) {
      const venue = `g${ctx.name}` as Venue;
      const reply = ctx.deferReply();
      const signal = ctx.signal;
      const call = async () => {
        await world.enter(venue, { key: msg.order.id, signal });
        return world.exchange.place({ ...msg.order, venue }, { signal });
      };
      call().then(reply, (error: unknown) => {
        bump(env.counters, `gateway call failed ${signal?.aborted ? 'after its ctx.signal aborted' : codeOf(error)}`);
        reply.fail(error);
      });
    },
  });

  const Risk = defineActor<null, RiskMsg>({
    async receive(_state, msg, ctx) {
      await world.enter('risk', { key: msg.intent.id });
      ctx.reply({ approved: true } satisfies Verdict);
    },
  });

  interface RouterState {
    risk: ActorRef<RiskMsg>;
    portfolio: ActorRef<PortfolioMsg>;
    place: ResilientFunction<[Intent, number], Fill | NotPlaced>;
    book: ResilientFunction<[Fill], unknown>;
  }

  const left = (deadline: number) => Math.max(1, deadline - performance.now());

  const Router = defineActor<RouterState, Intent>({
    init: (_args, ctx) => {
      const gateways = ctx.lookup('/trading/gateways') as ActorRef<PlaceMsg>;
      const portfolio = ctx.lookup('/trading/portfolio') as ActorRef<PortfolioMsg>;
      const place = resilient<[Intent, number], Fill | NotPlaced>(
        ({ signal }, order: Intent, deadline: number) =>
          ctx.ask<Fill, PlaceMsg>(gateways, { type: 'place', order }, { signal, timeoutMs: left(deadline) }).catch((error: unknown) => {
            bump(env.counters, `place.try.error.${signal?.aborted ? 'after abort ' : ''}${describe(error)}`); // counted, rethrown
            throw error;
          }),
        {
          name: 'place',
          timeoutMs: 'auto',
          autoTimeout: { minMs: 50, maxMs: 5_000 },
          retry: { max: 3, baseMs: 50, maxMs: 1_000, jitter: 0.2 },
          breaker: { failureThreshold: 10, resetTimeoutMs: 500 },
          // The README's sizing: as many running as the pool takes (3 × maxInFlight 2), so the
          // queueing happens here, untimed, never at the venue under an 'auto' timeout; as many
          // waiting as the caller's deadline allows (≈ 4 s of the exchange's 200/s)
          bulkhead: { maxConcurrent: 6, maxQueue: 800 },
          random: env.random,
          fallback: (error: unknown) => {
            bump(env.counters, `place.fallback.${describe(error)}`);
            return notPlaced(describe(error));
          },
        },
      );
      // Booking a fill the exchange executed is work that must be done, whoever still waits (an
      // outbox): priority 0 (never refused by admission control), its own generous deadline and
      // retries, not the caller's signal.
      const book = resilient<[Fill], unknown>(({ signal }, fill: Fill) => ctx.ask(portfolio, { type: 'book', fill }, { signal, timeoutMs: BOOKING_MS, priority: 0 }), {
        name: 'book',
        retry: { max: 10, baseMs: 50, maxMs: 1_000, jitter: 0.2, budget: false },
        random: env.random,
      });
      env.counters['router.incarnations'] = Number(env.counters['router.incarnations'] ?? 0) + 1;
      env.place = place;
      return { risk: ctx.lookup('/trading/risk') as ActorRef<RiskMsg>, portfolio, place, book };
    },
    async receive(state, intent, ctx) {
      await world.enter('router', { key: intent.id });
      const reply = ctx.deferReply();
      const signal = ctx.signal;
      const deadline = ctx.deadline ?? performance.now() + 5_000;
      route(state, ctx, intent, signal, deadline).then(reply, reply.fail);
    },
  });

  async function route(s: RouterState, ctx: Context<Intent>, intent: Intent, signal: AbortSignal | undefined, deadline: number): Promise<Claim> {
    let verdict: Verdict;
    try {
      verdict = await ctx.ask<Verdict, RiskMsg>(s.risk, { type: 'check', intent }, { signal, timeoutMs: left(deadline) });
    } catch (error) {
      bump(env.counters, `risk.error.${describe(error)}`);
      if (degradable(error)) return notPlaced(`risk ${describe(error)}`);
      throw error;
    }
    if (!verdict.approved) return notPlaced(verdict.reason);
    const timeoutMs = s.place.timeoutMs();
    env.counters['place.autoTimeout.min'] = Math.min(Number(env.counters['place.autoTimeout.min'] ?? Infinity), Math.round(timeoutMs));
    env.counters['place.autoTimeout.max'] = Math.max(Number(env.counters['place.autoTimeout.max'] ?? 0), Math.round(timeoutMs));
    const placed = await s.place.withSignal(signal)(intent, deadline);
    if (DEBUG) trace(intent.id, `placed ${'status' in placed ? placed.reason : 'filled'}`);
    if ('status' in placed) return placed;
    // The fill is the fact the caller needs; booking it follows (an outbox that retries until
    // the portfolio has it), so a slow portfolio delays the books, not the answer.
    s.book(placed).then(
      () => DEBUG && trace(intent.id, 'booked'),
      (error: unknown) => bump(env.counters, `book.error.${describe(error)}`),
    );
    return { status: 'filled', fill: placed };
  }

  const Ingress = defineActor<{ router: ActorRef<Intent> }, Intent>({
    init: (_args, ctx) => ({ router: ctx.lookup('/trading/router') as ActorRef<Intent> }),
    async receive(state, intent, ctx) {
      await world.enter('ingress', { key: intent.id });
      const reply = ctx.deferReply();
      const deadline = ctx.deadline ?? performance.now() + 5_000;
      ctx.ask(state.router, intent, { signal: ctx.signal, timeoutMs: left(deadline) }).then(reply, reply.fail);
    },
  });

  return supervisor('trading', {
    strategy: 'one-for-one',
    // The README's advice for components facing an unreliable outside world: an intensity above
    // the rate at which that world makes them fail (a crash per bad call), so one flaky child is
    // restarted on its own and never takes its healthy siblings down; bugs still escalate.
    intensity: { maxRestarts: 100, withinMs: 1_000 },
    backoff: { minMs: 5, maxMs: 500, factor: 2, jitter: 0.2 },
    children: [
      child('audit', Notifier('audit')),
      child('monitor', Notifier('monitor')),
      child('portfolio-replica', Replica),
      child('portfolio', Portfolio, { snapshot: { everyMessages: 1 }, partners: ['/trading/portfolio-replica'] }),
      pool('gateways', Gateway, { size: 3, routing: 'least-busy', hedge: { afterMs: 'p95', max: 2 }, maxInFlight: 2 }),
      child('risk', Risk, { essential: true, breaker: { fallback: { approved: false, reason: 'risk unavailable (essential fallback)' } } }),
      child('router', Router),
      child('ingress', Ingress),
    ],
  });
}

/** How long one booking attempt may take. */
const BOOKING_MS = 10_000;

/** SCENARIOS_DEBUG=1: every runtime event, and the tree's non-running actors every 250 ms, on stderr. */
const DEBUG = process.env.SCENARIOS_DEBUG === '1';
const traces = new Map<string, string[]>();
function trace(id: string, step: string): void {
  const list = traces.get(id) ?? [];
  list.push(`${(performance.now() / 1000).toFixed(3)} ${step}`);
  traces.set(id, list);
}

/** Watches the system bus: modes, restarts, breakers, escalations. Essential: never parked. */
function observer(counters: Record<string, number | string>, modes: string[], now: () => number) {
  const log: string[] = [];
  return defineActor<null, never>({
    receive() {},
    onEvent(_state, event) {
      const data = event.data as { to?: string; path?: string; reason?: string };
      const at = `${(now() / 1000).toFixed(1)} s`;
      if (DEBUG) console.error(`${(now() / 1000).toFixed(3)} ${event.topic} ${JSON.stringify(event.data)}`);
      if (event.topic === 'system.mode') {
        modes.push(String(data.to));
        log.push(`${at} mode → ${data.to} (${data.reason})`);
        counters['timeline (runtime events)'] = log.join(' | ');
        return;
      }
      // Restarts of supervisors and pools, and escalations, with their time.
      if ((event.topic === 'actor.restarted' && (data.path === '/trading' || data.path === '/trading/gateways')) || event.topic === 'supervisor.escalated') {
        log.push(`${at} ${event.topic} ${data.path}`);
        counters['timeline (runtime events)'] = log.join(' | ');
      }
      bump(counters, event.topic === 'actor.restarted' ? `restarted ${data.path}` : event.topic.startsWith('breaker.') ? `${event.topic} ${data.path}` : event.topic);
    },
  });
}

export function genesisContestant(world: World, seed: number): Contestant {
  const counters: Record<string, number | string> = {};
  const modes: string[] = [];
  const env: Env = { world, counters, random: seededRandom(seed ^ 0x85ebca6b) };
  let system: ActorSystem | null = null;
  let ingress: ActorRef<Intent> | null = null;
  return {
    name: 'genesis',
    async start() {
      system = await ActorSystem.start({ name: 'scenarios', store: ':memory:', logger: { level: 'silent' }, random: seededRandom(seed ^ 0xc2b2ae35) });
      const watcher = system.spawn(
        observer(counters, modes, () => world.now()),
        { name: 'observer', essential: true },
      );
      for (const topic of ['system.mode', 'actor.restarted', 'breaker.*', 'supervisor.escalated']) system.subscribe(watcher, topic);
      await system.start(behaviors(env));
      ingress = system.lookup('/trading/ingress') as ActorRef<Intent>;
      if (DEBUG) {
        const sys = system;
        const flat = (nodes: ReturnType<ActorSystem['tree']>): string[] =>
          nodes.flatMap((n) => [...(n.status === 'running' ? [] : [`${n.path}:${n.status}`]), ...flat(n.children)]);
        setInterval(() => console.error(`${(world.now() / 1000).toFixed(3)} tree ${sys.mode} ${flat(sys.tree()).join(' ')}`), 250).unref();
      }
    },
    async submit(intent, deadlineMs) {
      try {
        return (await ingress!.ask<Claim>(intent, { timeoutMs: deadlineMs })) ?? { status: 'failed', reason: 'empty reply' };
      } catch (error) {
        if (DEBUG) console.error(`claim ${intent.id} ${describe(error)} at ${(performance.now() / 1000).toFixed(3)}: ${traces.get(intent.id)?.join(', ')}`);
        // A refusal at once (open breaker, overload) is a marked refusal the caller can act on.
        return degradable(error) ? notPlaced(describe(error)) : { status: 'failed', reason: describe(error) };
      }
    },
    async finish(): Promise<ContestantReport> {
      const sys = system!;
      let booked: string[] = [];
      try {
        const portfolio = sys.lookup('/trading/portfolio') as ActorRef<PortfolioMsg> | undefined;
        if (portfolio === undefined) throw new Error('no live /trading/portfolio');
        booked = await portfolio.ask<string[]>({ type: 'booked' }, { timeoutMs: 5_000 });
      } catch (error) {
        counters['final portfolio unavailable'] = codeOf(error);
      }
      for (const [k, v] of Object.entries(env.place?.stats ?? {})) if (typeof v === 'number' && v > 0) counters[`place.stats.${k}`] = v;
      for (const [reason, n] of Object.entries(sys.deadLetters.counts())) counters[`deadLetters.${reason}`] = n;
      const escalations = sys.escalations();
      if (escalations.length > 0) counters.escalations = escalations.map((e) => e.path).join(', ');
      const walk = (nodes: ReturnType<ActorSystem['tree']>): void => {
        for (const node of nodes) {
          if (node.status !== 'running') counters[`final status ${node.path}`] = node.status;
          walk(node.children);
        }
      };
      walk(sys.tree());
      let restarts = 0;
      for (const [k, v] of Object.entries(counters)) if (k.startsWith('restarted ') && typeof v === 'number') restarts += v;
      const seen = modes.length === 0 ? ['normal only'] : modes;
      // No shutdown: the run's process exits once the judge has its records.
      return { booked, restarts, modes: seen, diagnostics: counters };
    },
  };
}
