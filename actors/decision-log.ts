/** Collects the strategy's decisions: counts per symbol and side, and the latest few. */
import { defineActor } from '../src/index.js';
import type { Decision } from './strategy.js';

export interface DecisionSummary {
  total: number;
  bySymbol: Record<string, { buy: number; sell: number }>;
  latest: Decision[];
}

export const DecisionLog = defineActor<DecisionSummary, Decision | 'summary'>({
  init: () => ({ total: 0, bySymbol: {}, latest: [] }),
  receiveBatch(state, messages, ctx) {
    for (const m of messages) {
      if (m === 'summary') {
        ctx.reply(structuredClone(state));
        continue;
      }
      state.total++;
      const counts = (state.bySymbol[m.symbol] ??= { buy: 0, sell: 0 });
      counts[m.side]++;
      state.latest.push(m);
      if (state.latest.length > 5) state.latest.shift();
    }
  },
});
