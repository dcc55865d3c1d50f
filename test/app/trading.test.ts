import { describe, expect, it } from 'vitest';
import { CRASH, crashable, Crasher } from '../../actors/chaos/chaos.js';
import type { DecisionSummary } from '../../actors/trading/decision-log.js';
import type { PortfolioSummary } from '../../actors/trading/portfolio.js';
import type { EmitChunk } from '../../actors/trading/price-feed.js';
import { type ActorRef, ActorStoppedError, type TreeNode } from '../../src/index.js';
import { tradingTree } from '../../supervisors/trading.js';
import { startSystem, until } from '../helpers.js';

describe('the trading demo tree', () => {
  it('keeps processing while each of its actors is crashed once', async () => {
    const system = await startSystem();
    await system.start(tradingTree({ seed: 7, exchangeFailure: 0 }));
    const feed = () => system.lookup('/trading/feed') as ActorRef<EmitChunk>;
    const emit = async (from: number, count: number) => {
      for (;;) {
        try {
          return await feed().ask({ type: 'emit', from, count });
        } catch (error) {
          if (!(error instanceof ActorStoppedError)) throw error;
        }
      }
    };
    let sent = 0;
    for (const victim of ['strategy', 'feed', 'portfolio', 'decisions', null]) {
      for (let i = 0; i < 20; i++) sent += (await emit(sent, 500)) as number;
      if (victim === 'portfolio') {
        const portfolio = system.lookup('/trading/portfolio')!;
        const before = (await portfolio.ask('summary')) as PortfolioSummary;
        expect(before.trades).toBeGreaterThan(0);
        await system.checkpoint('/trading/portfolio');
        portfolio.tell(CRASH);
        await until(() => system.tree()[0]!.children.find((c) => c.name === 'portfolio')!.status === 'running');
        expect(await portfolio.ask('summary')).toEqual(before); // back from its snapshot, not from init
      } else if (victim) system.lookup(`/trading/${victim}`)!.tell(CRASH);
    }
    for (let i = 0; i < 20; i++) sent += (await emit(sent, 500)) as number;

    const restarts = () => (system.tree()[0] as TreeNode).children.map((c) => [c.name, c.status, c.restarts]);
    await until(() => restarts().every(([, status]) => status === 'running')); // backoff is on the real clock
    expect(restarts()).toEqual([
      ['exchange', 'running', 0],
      ['portfolio-replica', 'running', 0],
      ['portfolio', 'running', 1],
      ['decisions', 'running', 1],
      ['strategy', 'running', 1],
      ['feed', 'running', 1],
    ]);
    // After its restart the strategy saw every tick sent since, and decisions keep coming.
    expect(await system.lookup('/trading/strategy')!.ask('seen')).toBeGreaterThanOrEqual(30_000);
    const summary = (await system.lookup('/trading/decisions')!.ask('summary')) as DecisionSummary;
    expect(summary.total).toBeGreaterThan(0);
    expect(summary.latest.at(-1)!.seq).toBeGreaterThan(sent - 10_000);
    expect(system.deadLetters.counts()).toEqual({ crashed: 4 });
    expect(system.metrics().snapshots.restored).toBe(1);
  });
});

describe('the exchange pool of the demo', () => {
  it('fills every order while its adapters keep failing and restarting', async () => {
    const system = await startSystem();
    await system.start(tradingTree({ seed: 3, exchangeFailure: 0.02 }));
    const feed = system.lookup('/trading/feed') as ActorRef<EmitChunk>;
    for (let sent = 0; sent < 30_000; sent += 500) await feed.ask({ type: 'emit', from: sent, count: 500 });
    const portfolio = (await system.lookup('/trading/portfolio')!.ask('summary')) as PortfolioSummary;
    const workers = system.tree()[0]!.children.find((c) => c.name === 'exchange')!.children;
    expect(portfolio.trades).toBeGreaterThan(100);
    expect(portfolio.unfilled).toBe(0); // failed over to another adapter each time
    expect(workers.reduce((sum, w) => sum + w.restarts, 0)).toBeGreaterThan(0);
    expect(system.escalations()).toEqual([]);
  });
});

describe('crashable', () => {
  it('makes any behavior crash on CRASH and delegates everything else', async () => {
    const system = await startSystem();
    const ref = system.spawn(crashable(Crasher), { name: 'c' });
    expect(await ref.ask({ type: 'work', value: 1 })).toBe(1);
    ref.tell(CRASH);
    await until(() => system.tree()[0]!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(0);
  });
});
