/**
 * The portfolio: on every `decision.*` event it sends a one-unit order to the exchange pool (buy
 * if the cash allows, sell if a position is held) and books the fill; it keeps cash, positions,
 * fees and the last prices. Its state is snapshotted (with a partner holding a replica), so it
 * survives crashes and process restarts. An order the exchange cannot fill is skipped, counted.
 */
import { CircuitOpenError, defineActor, GenesisError } from '../../src/index.js';
import type { Fill, Order } from './exchange.js';
import type { Decision } from './strategy.js';

export interface PortfolioState {
  cash: number;
  positions: Map<string, number>;
  lastPrice: Map<string, number>;
  trades: number;
  fees: number;
  /** Orders the exchange could not fill (all attempts failed, or its breaker was open). */
  unfilled: number;
  /** Runs of the demo this portfolio has lived through. */
  sessions: number;
  /** Path of the exchange pool. */
  exchange: string;
}

export interface PortfolioSummary {
  cash: number;
  positions: Record<string, number>;
  equity: number;
  trades: number;
  fees: number;
  unfilled: number;
  sessions: number;
}

export interface PortfolioArgs {
  cash?: number;
  /** Path of the exchange (a pool of adapters). */
  exchange: string;
}

export const Portfolio = defineActor<PortfolioState, 'summary' | 'new-session', PortfolioArgs>({
  version: 2,
  init: (args, ctx) => {
    ctx.subscribe('decision.*');
    return {
      cash: args.cash ?? 100_000,
      positions: new Map(),
      lastPrice: new Map(),
      trades: 0,
      fees: 0,
      unfilled: 0,
      sessions: 0,
      exchange: args.exchange,
    };
  },
  migrate(old, fromVersion) {
    // Version 1 traded without an exchange: no fees, no unfilled count, no exchange path.
    if (fromVersion === 1) return { ...(old as PortfolioState), fees: 0, unfilled: 0, exchange: '/trading/exchange' };
    throw new Error(`no migration from version ${fromVersion}`);
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
      fees: state.fees,
      unfilled: state.unfilled,
      sessions: state.sessions,
    } satisfies PortfolioSummary);
  },
  async onEvent(state, event, ctx) {
    const d = event.data as Decision;
    state.lastPrice.set(d.symbol, d.price);
    const held = state.positions.get(d.symbol) ?? 0;
    const wanted = (d.side === 'buy' && state.cash >= d.price * 1.001) || (d.side === 'sell' && held > 0);
    if (!wanted) return;
    const exchange = ctx.lookup(state.exchange);
    let fill: Fill;
    try {
      if (!exchange) throw new CircuitOpenError('exchange', 'the exchange is not running');
      fill = await ctx.ask<Fill, Order>(exchange, { symbol: d.symbol, side: d.side, price: d.price }, { timeoutMs: 1000 });
    } catch (error) {
      if (!(error instanceof GenesisError)) throw error;
      state.unfilled++; // no fill, no trade: the position stays as it was
      return;
    }
    const sign = fill.side === 'buy' ? 1 : -1;
    state.cash -= sign * fill.price + fill.fee;
    state.fees += fill.fee;
    state.positions.set(d.symbol, (state.positions.get(d.symbol) ?? 0) + sign);
    state.trades++;
  },
});

/** Holds replicas of a partner's snapshots (the runtime does the holding); answers 'ping'. */
export const ReplicaHolder = defineActor<null, 'ping'>({
  receive: (_s, _m, ctx) => void ctx.reply('pong'),
});
