/**
 * The flagship application as a supervision tree: the portfolio (snapshotted, with a replica
 * partner), the decision log, the strategy and the price feed under one supervisor. They talk
 * through pub/sub topics, so a restarted actor needs no new refs: it resubscribes in init and
 * the flow goes on; the portfolio comes back from its newest snapshot.
 */
import { crashable } from '../actors/chaos.js';
import { DecisionLog } from '../actors/decision-log.js';
import { Portfolio, ReplicaHolder } from '../actors/portfolio.js';
import { PriceFeed } from '../actors/price-feed.js';
import { Strategy } from '../actors/strategy.js';
import { child, supervisor } from '../src/index.js';

export interface TradingOptions {
  seed?: number;
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
      // The portfolio's partner holds a copy of each of its snapshots (memory and store).
      child('portfolio-replica', ReplicaHolder),
      child('portfolio', crashable(Portfolio), {
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
