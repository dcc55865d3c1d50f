/**
 * A moving-average crossover strategy: per symbol, a short and a long simple moving average
 * over the last prices; a buy when the short crosses above the long, a sell when it crosses
 * below. Decisions are published as `decision.<symbol>` events.
 */
import { defineActor } from '../../src/index.js';
import type { PriceTick } from './price-feed.js';

export interface Decision {
  symbol: string;
  side: 'buy' | 'sell';
  price: number;
  seq: number;
}

interface Window {
  prices: number[];
  next: number;
  count: number;
  sum: number;
  lastSignal: number; // +1 short above long, -1 below, 0 unknown
}

interface StrategyState {
  short: number;
  long: number;
  windows: Map<string, Window>;
  seen: number;
}

export interface StrategyArgs {
  short?: number;
  long?: number;
}

function sumOfLast(w: Window, n: number, long: number): number {
  let s = 0;
  for (let i = 1; i <= n; i++) s += w.prices[(w.next - i + long) % long]!;
  return s;
}

/** Asked 'seen', it answers how many ticks this incarnation has processed. */
export const Strategy = defineActor<StrategyState, 'seen', StrategyArgs | undefined>({
  init: (args, ctx) => {
    ctx.subscribe('market.*.price');
    return { short: args?.short ?? 5, long: args?.long ?? 20, windows: new Map(), seen: 0 };
  },
  receive(state, _msg, ctx) {
    ctx.reply(state.seen);
  },
  onEvent(state, event, ctx) {
    const tick = event.data as PriceTick;
    state.seen++;
    let w = state.windows.get(tick.symbol);
    if (!w) state.windows.set(tick.symbol, (w = { prices: new Array(state.long).fill(0), next: 0, count: 0, sum: 0, lastSignal: 0 }));
    w.sum += tick.price - w.prices[w.next]!;
    w.prices[w.next] = tick.price;
    w.next = (w.next + 1) % state.long;
    if (w.count < state.long) w.count++;
    if (w.count < state.long) return;
    const shortAvg = sumOfLast(w, state.short, state.long) / state.short;
    const longAvg = w.sum / state.long;
    const signal = shortAvg > longAvg ? 1 : -1;
    if (w.lastSignal !== 0 && signal !== w.lastSignal) {
      const decision: Decision = { symbol: tick.symbol, side: signal > 0 ? 'buy' : 'sell', price: tick.price, seq: tick.seq };
      ctx.publish(`decision.${tick.symbol}`, decision);
    }
    w.lastSignal = signal;
  },
});
