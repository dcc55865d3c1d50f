/**
 * The flagship application as a supervision tree: the exchange (a pool of adapters), the
 * portfolio (snapshotted, with a replica partner), the decision log, the strategy and the price
 * feed under one supervisor. They talk
 * through pub/sub topics, so a restarted actor needs no new refs: it resubscribes in init and
 * the flow goes on; the portfolio comes back from its newest snapshot.
 */
import { crashable } from '../actors/chaos/chaos.js';
import { DecisionLog } from '../actors/trading/decision-log.js';
import { ExchangeAdapter } from '../actors/trading/exchange.js';
import { Portfolio, ReplicaHolder } from '../actors/trading/portfolio.js';
import { PriceFeed } from '../actors/trading/price-feed.js';
import { Strategy } from '../actors/trading/strategy.js';
import { child, pool, supervisor } from '../src/index.js';

export interface TradingOptions {
  seed?: number;
  /** Probability that an exchange adapter fails an order (default 0.0005). */
  exchangeFailure?: number;
  symbols?: Record<string, number>;
}

export function tradingTree(options: TradingOptions = {}) {
  return supervisor('trading', {
    strategy: 'one-for-one',
    intensity: { maxRestarts: 10, withinMs: 10_000 },
    backoff: { minMs: 5, maxMs: 500, factor: 2, jitter: 0.2 },
    children: [
      // Downstream first: start order is the order data flows backwards, so a consumer is
      // always subscribed before its producer starts.
      // Three exchange adapters behind one ref; a slow one is hedged around, a failing one is
      // failed over and restarted. Each drops its connection on 0.05% of orders (seeded).
      pool('exchange', crashable(ExchangeAdapter), {
        size: 3,
        routing: 'least-busy',
        hedge: { afterMs: 'p95', max: 2, initialMs: 20 },
        intensity: { maxRestarts: 100, withinMs: 1000 },
        args: { failure: options.exchangeFailure ?? 0.0005, seed: options.seed ?? 42 },
      }),
      // The portfolio's partner holds a copy of each of its snapshots (memory and store).
      child('portfolio-replica', ReplicaHolder),
      child('portfolio', crashable(Portfolio), {
        args: { exchange: '/trading/exchange' },
        snapshot: { everyMessages: 200, everyMs: 500 },
        partners: ['/trading/portfolio-replica'],
      }),
      child('decisions', crashable(DecisionLog)),
      child('strategy', crashable(Strategy), { args: { short: 5, long: 20 } }),
      child('feed', crashable(PriceFeed), {
        args: { symbols: options.symbols ?? { BTC: 65_000, ETH: 3_400, SOL: 150 }, seed: options.seed ?? 42 },
      }),
    ],
  });
}
