/**
 * A synthetic market-data feed: a seeded random walk per symbol, published as
 * `market.<symbol>.price` events. It emits in chunks and tells itself to continue, so other
 * actors (and the event loop) get their turn while the feed runs.
 */
import { defineActor } from '../src/index.js';
import { seededRandom } from './rng.js';

export interface PriceTick {
  symbol: string;
  price: number;
  seq: number;
}

export interface FeedArgs {
  symbols: Record<string, number>; // symbol → starting price
  total: number;
  seed?: number;
  chunk?: number;
}

interface FeedState {
  next: () => number;
  prices: Map<string, number>;
  symbols: string[];
  emitted: number;
  total: number;
  chunk: number;
}

export type FeedMsg = 'start' | 'continue' | 'status';
export interface FeedStatus {
  emitted: number;
  total: number;
  done: boolean;
}

export const PriceFeed = defineActor<FeedState, FeedMsg, FeedArgs>({
  init: (args) => ({
    next: seededRandom(args.seed ?? 42),
    prices: new Map(Object.entries(args.symbols)),
    symbols: Object.keys(args.symbols),
    emitted: 0,
    total: args.total,
    chunk: args.chunk ?? 500,
  }),
  receive(state, msg, ctx) {
    if (msg === 'status') {
      ctx.reply({ emitted: state.emitted, total: state.total, done: state.emitted >= state.total } satisfies FeedStatus);
      return;
    }
    const end = Math.min(state.total, state.emitted + state.chunk);
    for (let seq = state.emitted; seq < end; seq++) {
      const symbol = state.symbols[seq % state.symbols.length]!;
      const last = state.prices.get(symbol)!;
      const price = Math.max(0.01, last * (1 + (state.next() - 0.5) * 0.004));
      state.prices.set(symbol, price);
      ctx.publish(`market.${symbol}.price`, { symbol, price, seq } satisfies PriceTick);
    }
    state.emitted = end;
    // Low priority: a 'status' ask (default priority) goes ahead of the bulk work.
    if (end < state.total) ctx.self.tell('continue', { priority: 4 });
  },
});
