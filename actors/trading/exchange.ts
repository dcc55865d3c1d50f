/**
 * The exchange adapter: fills market orders at the quoted price plus a fee. The demo runs three
 * of them as a pool (supervisors/trading.ts); each can be told to fail on its own with a seeded
 * probability, so the pool's failover and the workers' restarts are exercised all along.
 */
import { defineActor } from '../../src/index.js';
import { seededRandom } from '../rng.js';

export interface Order {
  symbol: string;
  side: 'buy' | 'sell';
  price: number;
}

export interface Fill {
  symbol: string;
  side: 'buy' | 'sell';
  price: number;
  fee: number;
  venue: string;
}

export interface ExchangeArgs {
  /** Fee as a fraction of the price (default 0.00001). */
  fee?: number;
  /** Probability that an order crashes the worker handling it (default 0). */
  failure?: number;
  seed?: number;
}

interface ExchangeState {
  fee: number;
  failure: number;
  random: () => number;
}

/** One random sequence per worker path, kept across its restarts (a restarted worker must not
 *  replay the draws that made it fail). */
const sequences = new Map<string, () => number>();

export const ExchangeAdapter = defineActor<ExchangeState, Order, ExchangeArgs | undefined>({
  init: (args, ctx) => {
    let random = sequences.get(ctx.path);
    // Each worker of a pool draws its own sequence (its name is its index).
    if (!random) sequences.set(ctx.path, (random = seededRandom((args?.seed ?? 7) * 31 + (Number(ctx.name) || 0))));
    return { fee: args?.fee ?? 0.00001, failure: args?.failure ?? 0, random };
  },
  receive(state, order, ctx) {
    if (state.random() < state.failure) throw new Error(`exchange connection of ${ctx.path} dropped`);
    ctx.reply({ ...order, fee: order.price * state.fee, venue: ctx.name } satisfies Fill);
  },
});
