/**
 * A synthetic market-data feed: a seeded random walk per symbol, published as
 * `market.<symbol>.price` events. The driver asks it to emit numbered chunks; because the
 * sequence numbers come with the request, a restarted feed (or a retried chunk) continues the
 * numbering instead of starting over.
 */
import { defineActor } from '../../src/index.js';
import { seededRandom } from '../rng.js';

export interface PriceTick {
  symbol: string;
  price: number;
  seq: number;
}

export interface FeedArgs {
  symbols: Record<string, number>; // symbol → starting price
  seed?: number;
}

interface FeedState {
  next: () => number;
  prices: Map<string, number>;
  symbols: string[];
}

/** Emit ticks `from` … `from + count - 1`; the reply is the number emitted. */
export interface EmitChunk {
  type: 'emit';
  from: number;
  count: number;
}

export const PriceFeed = defineActor<FeedState, EmitChunk, FeedArgs>({
  init: (args) => ({
    next: seededRandom(args.seed ?? 42),
    prices: new Map(Object.entries(args.symbols)),
    symbols: Object.keys(args.symbols),
  }),
  receive(state, msg, ctx) {
    for (let seq = msg.from; seq < msg.from + msg.count; seq++) {
      const symbol = state.symbols[seq % state.symbols.length]!;
      const last = state.prices.get(symbol)!;
      const price = Math.max(0.01, last * (1 + (state.next() - 0.5) * 0.004));
      state.prices.set(symbol, price);
      ctx.publish(`market.${symbol}.price`, { symbol, price, seq } satisfies PriceTick);
    }
    ctx.reply(msg.count);
  },
});
