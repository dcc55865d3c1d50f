/**
 * One node of the cluster demo (supervisors/cluster.ts), in its own process.
 * argv: <nats url> <node> <role> [key=value…]
 *
 * - role `gateway`: an exchange gateway at /trading/exchange fills the orders other nodes ask it.
 *   `ledger=<partner node>`: it also keeps the ledger (/ledger), every change snapshotted and
 *   replicated to /ledger-replica on the partner node. `standby=<node>`: it holds that replica
 *   (/ledger-replica) and watches the ledger on <node>; when that node is down, it starts the
 *   ledger here — restored from the replica — and announces it on `ledger.moved`.
 * - role `trader`: the price feed, the strategy and an order router; `venues=b,c` the nodes of
 *   the gateways it asks (round-robin; a NodeDownError or a timeout sends the order to another
 *   venue, and a venue that failed is skipped for 1 s); `ledger=<node>` where each fill is booked.
 *   Fills are booked in order, a batch at a time, each batch acknowledged only once the ledger has
 *   snapshotted it; a batch that fails is sent again (to wherever the ledger is by then), and the
 *   ledger ignores fills it has booked already: each fill is booked exactly once.
 *
 * Writes JSON lines on stdout: `{ ready }` once joined, then `{ stats }` every 500 ms; on SIGTERM
 * a last `{ final }` line, then shuts down.
 */
import type { Fill, Order } from '../actors/trading/exchange.js';
import { PriceFeed } from '../actors/trading/price-feed.js';
import type { Decision } from '../actors/trading/strategy.js';
import { Strategy } from '../actors/trading/strategy.js';
import { type ActorRef, ActorSystem, child, type DownSignal, defineActor, NodeDownError, supervisor, TimeoutError } from '../src/index.js';

const [url, node, role, ...rest] = process.argv.slice(2) as [string, string, string, ...string[]];
const options = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]));
const out = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ node, ...line })}\n`);

const system = await ActorSystem.start({ name: `cluster-${node}`, store: ':memory:', logger: { level: 'silent' }, cluster: { servers: url, node } });

const counts = { fills: 0, ticks: 0, orders: 0, unfilled: 0, rerouted: 0, nodeDown: 0, timeouts: 0, nodeDownMaxMs: 0, bookRetries: 0 };
const filledBy: Record<string, number> = {};
/** The ledger hosted here, if any: what it has booked, and how it started. */
let ledgerHere: { booked: number; seq: number; restoredFrom?: { booked: number }; tookOverAfterMs?: number } | null = null;

const Gateway = defineActor<null, Order>({
  init: () => null,
  receive(_state, order, ctx) {
    counts.fills++;
    ctx.reply({ ...order, fee: order.price * 0.00001, venue: node } satisfies Fill);
  },
});

// ---- The ledger: fills booked exactly once, each batch snapshotted before it is acknowledged ----

interface Booked extends Fill {
  seq: number;
}
interface LedgerState {
  /** The highest fill seq booked. */
  lastSeq: number;
  booked: number;
  fees: number;
  positions: Record<string, number>;
}
type Book = { fills: Booked[] };

const Ledger = defineActor<LedgerState, Book>({
  init: () => ({ lastSeq: 0, booked: 0, fees: 0, positions: {} }),
  receive(state, { fills }, ctx) {
    for (const fill of fills) {
      if (fill.seq <= state.lastSeq) continue; // a batch sent again: booked already
      state.lastSeq = fill.seq;
      state.booked++;
      state.fees += fill.fee;
      state.positions[fill.symbol] = (state.positions[fill.symbol] ?? 0) + (fill.side === 'buy' ? 1 : -1);
    }
    ledgerHere = { ...ledgerHere, booked: state.booked, seq: state.lastSeq };
    // Acknowledged once the snapshot holding it is committed (and on its way to the partner).
    const reply = ctx.deferReply();
    const lastSeq = state.lastSeq;
    void ctx.snapshotNow().then(() => reply(lastSeq));
    return state;
  },
});

/** Holds the replicas of the ledger (the runtime keeps them; the actor does nothing). */
const Replica = defineActor<null, never>({ init: () => null, receive() {} });

/** Watches the ledger on another node; once that node is down, starts the ledger here. */
const Standby = defineActor<{ lostAt: number }, ActorRef>({
  init: () => ({ lostAt: 0 }),
  receive(_state, ref, ctx) {
    ctx.watch(ref);
  },
  onSignal(_state, signal: DownSignal) {
    const lostAt = performance.now();
    // Same path as on the lost node: its restore finds the replica held here.
    const ledger = system.spawn(Ledger, { name: 'ledger', snapshot: { everyMs: 5000 } });
    void ledger.ask<number>({ fills: [] }).then((lastSeq) => {
      const state = system.getState('/ledger') as LedgerState;
      ledgerHere = { booked: state.booked, seq: lastSeq, restoredFrom: { booked: state.booked }, tookOverAfterMs: performance.now() - lostAt };
      system.publish('ledger.moved', { node, reason: String(signal.reason) });
    });
  },
});

// ---- The trader ------------------------------------------------------------------------

interface Venue {
  node: string;
  ref: ActorRef<Order>;
  downUntil: number;
}

const venues: Venue[] = (options.venues ?? '')
  .split(',')
  .filter(Boolean)
  .map((v) => ({ node: v, ref: system.remote<Order>(v, '/trading/exchange'), downUntil: 0 }));
let turn = 0;
let ledgerNode = options.ledger ?? '';
let fillSeq = 0;
const unbooked: Booked[] = [];
let booking = false;
let acked = 0;

/** Sends the fills not yet acknowledged to the ledger, one batch at a time, in order. */
function book(): void {
  if (booking || unbooked.length === 0 || ledgerNode === '') return;
  booking = true;
  const batch = unbooked.slice(0, 500);
  system
    .remote<Book>(ledgerNode, '/ledger')
    .ask<number>({ fills: batch }, { timeoutMs: 500 })
    .then(
      (lastSeq) => {
        let done = 0;
        while (done < unbooked.length && unbooked[done]!.seq <= lastSeq) done++;
        unbooked.splice(0, done);
        acked = lastSeq;
        booking = false;
        book();
      },
      () => {
        // Not booked (the ledger's node is down, or it did not answer): the same fills again soon.
        counts.bookRetries++;
        setTimeout(() => {
          booking = false;
          book();
        }, 100);
      },
    );
}

/** Sends `order` to the next venue that is not known down, skipping those in `tried`. */
function route(order: Order, tried: Set<string>): void {
  const now = performance.now();
  let venue: Venue | undefined;
  for (let i = 0; i < venues.length && !venue; i++) {
    const v = venues[turn++ % venues.length]!;
    if (!tried.has(v.node) && v.downUntil <= now) venue = v;
  }
  // Every venue failed lately: probe one not tried yet for this order.
  venue ??= venues.find((v) => !tried.has(v.node));
  if (!venue) {
    counts.unfilled++;
    return;
  }
  const chosen = venue;
  tried.add(chosen.node);
  const sent = performance.now();
  chosen.ref.ask<Fill>(order, { timeoutMs: 300 }).then(
    (fill) => {
      filledBy[chosen.node] = (filledBy[chosen.node] ?? 0) + 1;
      unbooked.push({ ...fill, seq: ++fillSeq });
      book();
    },
    (error: unknown) => {
      if (error instanceof NodeDownError) {
        counts.nodeDown++;
        counts.nodeDownMaxMs = Math.max(counts.nodeDownMaxMs, performance.now() - sent);
      } else if (error instanceof TimeoutError) counts.timeouts++;
      else throw error;
      chosen.downUntil = performance.now() + 1000;
      counts.rerouted++;
      route(order, tried);
    },
  );
}

const Router = defineActor<null, never>({
  init: (_args, ctx) => {
    ctx.subscribe('decision.*');
    ctx.subscribe('ledger.moved');
    return null;
  },
  receive() {},
  onEvent(_state, event) {
    if (event.topic === 'ledger.moved') {
      ledgerNode = (event.data as { node: string }).node;
      book();
      return;
    }
    const d = event.data as Decision;
    counts.orders++;
    route({ symbol: d.symbol, side: d.side, price: d.price }, new Set());
  },
});

let running = true;
if (role === 'gateway') {
  await system.start(supervisor('trading', { strategy: 'one-for-one', children: [child('exchange', Gateway)] }));
  if (options.ledger !== undefined) {
    system.spawn(Ledger, { name: 'ledger', partners: [`${options.ledger}:/ledger-replica`] });
    ledgerHere = { booked: 0, seq: 0 };
  }
  if (options.standby !== undefined) {
    system.spawn(Replica, { name: 'ledger-replica' });
    system.spawn(Standby, { name: 'standby' }).tell(system.remote(options.standby, '/ledger'));
  }
} else {
  await system.start(
    supervisor('trading', {
      strategy: 'one-for-one',
      children: [
        child('router', Router),
        child('strategy', Strategy, { args: { short: 3, long: 8 } }),
        child('feed', PriceFeed, { args: { symbols: { BTC: 65_000, ETH: 3_400, SOL: 150, ADA: 0.45 }, seed: 7 } }),
      ],
    }),
  );
  // The driver: 400 ticks every 20 ms (~20k ticks/s), so the figures stay readable.
  const feed = system.lookup('/trading/feed')!;
  void (async () => {
    let seq = 0;
    while (running) {
      const n = await feed.ask<number>({ type: 'emit', from: seq, count: 400 });
      seq += n;
      counts.ticks += n;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
}

const stats = () => ({ ...counts, filledBy, ledgerNode, unbooked: unbooked.length, acked, ledgerHere });
const timer = setInterval(() => out({ stats: stats() }), 500);
out({ ready: true, role });

process.on('SIGTERM', () => {
  running = false;
  clearInterval(timer);
  // Let the orders in flight settle (the remote ask timeout is 300 ms), and the last fills be booked.
  const settle = async () => {
    for (let i = 0; i < 40 && (unbooked.length > 0 || booking); i++) await new Promise((r) => setTimeout(r, 50));
  };
  setTimeout(
    () =>
      void settle().then(() => {
        out({ final: stats() });
        void system.shutdown().then(() => process.exit(0));
      }),
    400,
  );
});
