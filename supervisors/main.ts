/**
 * The flagship demo (`npm start`): the trading tree of supervisors/trading.ts processes a fixed
 * number of price events; a chaos schedule crashes each of its actors once along the way
 * (`--no-chaos` to turn that off). Prints progress and a summary, exits 0.
 *
 * The portfolio is snapshotted to data/genesis.db: the next run resumes it, even after a
 * kill -9 of this process. `--fresh` starts over.
 *
 *   npm start -- --events 500000 --seed 7 --no-chaos --fresh
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CRASH } from '../actors/chaos/chaos.js';
import type { DecisionSummary } from '../actors/trading/decision-log.js';
import type { PortfolioSummary } from '../actors/trading/portfolio.js';
import type { EmitChunk } from '../actors/trading/price-feed.js';
import { type ActorRef, ActorStoppedError, ActorSystem, type TreeNode } from '../src/index.js';
import { tradingTree } from './trading.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '42' },
    chunk: { type: 'string', default: '1000' },
    'no-chaos': { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    db: { type: 'string', default: 'data/genesis.db' },
  },
});
const total = Number(values.events);
const chunk = Number(values.chunk);
for (const [name, value] of [
  ['events', total],
  ['chunk', chunk],
] as const) {
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${name} must be a positive integer (got ${values[name]})`);
    process.exit(2);
  }
}

if (values.fresh) for (const suffix of ['', '-wal', '-shm']) rmSync(values.db + suffix, { force: true });
const system = await ActorSystem.start({ name: 'trading', store: values.db, logger: { level: process.env.LOG_LEVEL ?? 'silent' } });
await system.start(tradingTree({ seed: Number(values.seed) }));
const live = (path: string) => system.lookup(path)!;
/** An ask that waits out a restart of its target (the demo's own reads must not fail on chaos). */
async function askLive<R>(path: string, message: unknown): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await live(path).ask(message)) as R;
    } catch (error) {
      if (!(error instanceof ActorStoppedError) || attempt === 10) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
const resumed = system.metrics().snapshots.restored > 0;
live('/trading/portfolio').tell('new-session');
console.log(resumed ? `Resumed the portfolio from ${values.db}` : `Fresh portfolio (snapshots go to ${values.db})`);

// Crash each working actor once along the run.
const chaos = values['no-chaos']
  ? []
  : [
      { at: 0.3, path: '/trading/strategy' },
      { at: 0.5, path: '/trading/feed' },
      { at: 0.6, path: '/trading/portfolio' },
      { at: 0.7, path: '/trading/decisions' },
    ];

const started = performance.now();
let lastProgress = started;
let emitted = 0;
let retried = 0;
while (emitted < total) {
  while (chaos.length > 0 && emitted >= chaos[0]!.at * total) {
    const { path } = chaos.shift()!;
    live(path).tell(CRASH);
    console.log(`chaos: crashed ${path} at event ${emitted}`);
  }
  const count = Math.min(chunk, total - emitted);
  try {
    emitted += (await (live('/trading/feed') as ActorRef<EmitChunk>).ask({ type: 'emit', from: emitted, count })) as number;
  } catch (error) {
    if (!(error instanceof ActorStoppedError)) throw error;
    retried++; // the feed was restarting: send the chunk again
    continue;
  }
  if (performance.now() - lastProgress > 200) {
    lastProgress = performance.now();
    const seconds = (lastProgress - started) / 1000;
    const line = `${emitted.toLocaleString('en')}/${total.toLocaleString('en')} events · ${Math.round(emitted / seconds).toLocaleString('en')} events/s`;
    if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
    else console.log(line);
  }
}
// Mailboxes are FIFO per priority: these asks are answered after every event sent before them.
const seen = await askLive<number>('/trading/strategy', 'seen');
const summary = await askLive<DecisionSummary>('/trading/decisions', 'summary');
const portfolio = await askLive<PortfolioSummary>('/trading/portfolio', 'summary');
await system.checkpoint('/trading/portfolio');
if (process.stdout.isTTY) process.stdout.write('\n');

const seconds = (performance.now() - started) / 1000;
const metrics = system.metrics();
const restarts = (nodes: TreeNode[]): string[] => nodes.flatMap((n) => [...(n.restarts ? [`${n.path} ×${n.restarts}`] : []), ...restarts(n.children)]);
console.log(`\nProcessed ${total.toLocaleString('en')} price events in ${seconds.toFixed(2)} s (${Math.round(total / seconds).toLocaleString('en')} events/s)`);
console.log(`Restarts: ${restarts(system.tree()).join(', ') || 'none'} · chunks re-sent: ${retried}`);
const breakers = (nodes: TreeNode[]): string[] =>
  nodes.flatMap((n) => [...(n.breaker && n.breaker !== 'closed' ? [`${n.path} ${n.breaker}`] : []), ...breakers(n.children)]);
console.log(`Breakers not closed: ${breakers(system.tree()).join(', ') || 'none'}`);
console.log(`Strategy ticks since its last restart: ${seen.toLocaleString('en')}`);
console.log(`Decisions since the decision log's last restart: ${summary.total}`);
for (const [symbol, c] of Object.entries(summary.bySymbol)) console.log(`  ${symbol}: ${c.buy} buy, ${c.sell} sell`);
console.log(`Latest: ${summary.latest.map((d) => `${d.side} ${d.symbol} @ ${d.price.toFixed(2)}`).join(', ')}`);
const money = (n: number) => n.toLocaleString('en', { maximumFractionDigits: 2 });
console.log(
  `Portfolio (session ${portfolio.sessions}): equity ${money(portfolio.equity)}, cash ${money(portfolio.cash)}, ` +
    `${portfolio.trades} trades (fees ${money(portfolio.fees)}, ${portfolio.unfilled} unfilled), positions ${JSON.stringify(portfolio.positions)}`,
);
console.log(`Messages handled: ${metrics.messagesHandled.toLocaleString('en')} · dead letters: ${JSON.stringify(system.deadLetters.counts())}`);
await system.shutdown();
