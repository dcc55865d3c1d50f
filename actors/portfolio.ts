/**
 * The portfolio: trades one unit on every `decision.*` event (buy if the cash allows, sell if a
 * position is held) and keeps cash, positions and the last prices. Its state is snapshotted
 * (with a partner holding a replica), so it survives crashes and process restarts.
 */
import { defineActor } from '../src/index.js';
import type { Decision } from './strategy.js';

export interface PortfolioState {
  cash: number;
  positions: Map<string, number>;
  lastPrice: Map<string, number>;
  trades: number;
  /** Runs of the demo this portfolio has lived through. */
  sessions: number;
}

export interface PortfolioSummary {
  cash: number;
  positions: Record<string, number>;
  equity: number;
  trades: number;
  sessions: number;
}

export const Portfolio = defineActor<PortfolioState, 'summary' | 'new-session', { cash?: number } | undefined>({
  version: 1,
  init: (args, ctx) => {
    ctx.subscribe('decision.*');
    return { cash: args?.cash ?? 100_000, positions: new Map(), lastPrice: new Map(), trades: 0, sessions: 0 };
  },
  receive(state, msg, ctx) {
    if (msg === 'new-session') return { ...state, sessions: state.sessions + 1 };
    let equity = state.cash;
    for (const [symbol, qty] of state.positions) equity += qty * (state.lastPrice.get(symbol) ?? 0);
    ctx.reply({
      cash: state.cash,
      positions: Object.fromEntries(state.positions),
      equity,
      trades: state.trades,
      sessions: state.sessions,
    } satisfies PortfolioSummary);
  },
  onEvent(state, event) {
    const d = event.data as Decision;
    state.lastPrice.set(d.symbol, d.price);
    const held = state.positions.get(d.symbol) ?? 0;
    if (d.side === 'buy' && state.cash >= d.price) {
      state.cash -= d.price;
      state.positions.set(d.symbol, held + 1);
      state.trades++;
    } else if (d.side === 'sell' && held > 0) {
      state.cash += d.price;
      state.positions.set(d.symbol, held - 1);
      state.trades++;
    }
  },
});

/** Holds replicas of a partner's snapshots (the runtime does the holding); answers 'ping'. */
export const ReplicaHolder = defineActor<null, 'ping'>({
  receive: (_s, _m, ctx) => void ctx.reply('pong'),
});
