/**
 * One node of the cluster demo (supervisors/cluster.ts), in its own process.
 * argv: <nats url> <node> <role> [venue nodes…]
 *
 * - role `gateway`: an exchange gateway at /trading/exchange fills the orders other nodes ask it.
 * - role `trader`: the price feed, the strategy and an order router; the router sends each
 *   decision as a remote ask to the gateway of one venue node (round-robin); a NodeDownError or a
 *   timeout sends the order to another venue, and a venue that failed is skipped for 1 s.
 *
 * Writes JSON lines on stdout: `{ ready }` once joined, then `{ stats }` every 500 ms; on SIGTERM
 * a last `{ final }` line, then shuts down.
 */
import type { Fill, Order } from '../actors/trading/exchange.js';
import { PriceFeed } from '../actors/trading/price-feed.js';
import type { Decision } from '../actors/trading/strategy.js';
import { Strategy } from '../actors/trading/strategy.js';
import { type ActorRef, ActorSystem, child, defineActor, NodeDownError, supervisor, TimeoutError } from '../src/index.js';

const [url, node, role, ...venueNodes] = process.argv.slice(2) as [string, string, string, ...string[]];
const out = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ node, ...line })}\n`);

const system = await ActorSystem.start({ name: `cluster-${node}`, store: false, logger: { level: 'silent' }, cluster: { servers: url, node } });

const counts = { fills: 0, ticks: 0, orders: 0, unfilled: 0, rerouted: 0, nodeDown: 0, timeouts: 0, nodeDownMaxMs: 0 };
const filledBy: Record<string, number> = {};

const Gateway = defineActor<null, Order>({
  init: () => null,
  receive(_state, order, ctx) {
    counts.fills++;
    ctx.reply({ ...order, fee: order.price * 0.00001, venue: node } satisfies Fill);
  },
});

interface Venue {
  node: string;
  ref: ActorRef<Order>;
  downUntil: number;
}

const venues: Venue[] = venueNodes.map((v) => ({ node: v, ref: system.remote<Order>(v, '/trading/exchange'), downUntil: 0 }));
let turn = 0;

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
    () => {
      filledBy[chosen.node] = (filledBy[chosen.node] ?? 0) + 1;
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
    return null;
  },
  receive() {},
  onEvent(_state, event) {
    const d = event.data as Decision;
    counts.orders++;
    route({ symbol: d.symbol, side: d.side, price: d.price }, new Set());
  },
});

let running = true;
if (role === 'gateway') {
  await system.start(supervisor('trading', { strategy: 'one-for-one', children: [child('exchange', Gateway)] }));
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

const timer = setInterval(() => out({ stats: { ...counts, filledBy } }), 500);
out({ ready: true, role });

process.on('SIGTERM', () => {
  running = false;
  clearInterval(timer);
  // Let the orders in flight settle (the remote ask timeout is 300 ms).
  setTimeout(() => {
    out({ final: { ...counts, filledBy } });
    void system.shutdown().then(() => process.exit(0));
  }, 400);
});
