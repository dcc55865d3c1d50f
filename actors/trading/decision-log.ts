/** Collects the strategy's decisions (`decision.*` events): counts per symbol and side, the latest few. */
import { defineActor } from '../../src/index.js';
import type { Decision } from './strategy.js';

export interface DecisionSummary {
  total: number;
  bySymbol: Record<string, { buy: number; sell: number }>;
  latest: Decision[];
}

export const DecisionLog = defineActor<DecisionSummary, 'summary'>({
  init: (_args, ctx) => {
    ctx.subscribe('decision.*');
    return { total: 0, bySymbol: {}, latest: [] };
  },
  receive(state, _msg, ctx) {
    ctx.reply(structuredClone(state));
  },
  onEvent(state, event) {
    const d = event.data as Decision;
    state.total++;
    const counts = (state.bySymbol[d.symbol] ??= { buy: 0, sell: 0 });
    counts[d.side]++;
    state.latest.push(d);
    if (state.latest.length > 5) state.latest.shift();
  },
});
