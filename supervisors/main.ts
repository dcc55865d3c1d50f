/**
 * The flagship demo (`npm start`): a synthetic price feed → a moving-average strategy → a
 * decision log. Processes a fixed number of events, prints progress while it runs and a
 * summary at the end, and exits 0.
 *
 *   npm start -- --events 1000000 --seed 7
 */
import { parseArgs } from 'node:util';
import { DecisionLog, type DecisionSummary } from '../actors/decision-log.js';
import { type FeedStatus, PriceFeed } from '../actors/price-feed.js';
import { Strategy } from '../actors/strategy.js';
import { ActorSystem } from '../src/index.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '42' },
  },
});
const total = Number(values.events);
const seed = Number(values.seed);
if (!Number.isInteger(total) || total <= 0) {
  console.error(`--events must be a positive integer (got ${values.events})`);
  process.exit(2);
}

const system = await ActorSystem.start({ name: 'trading', logger: { level: process.env.LOG_LEVEL ?? 'warn' } });
const decisions = system.spawn(DecisionLog, { name: 'decisions' });
const strategy = system.spawn(Strategy, { name: 'strategy', args: { decisions } });
const feed = system.spawn(PriceFeed, {
  name: 'feed',
  args: { symbols: { BTC: 65_000, ETH: 3_400, SOL: 150 }, total, seed },
});

const started = performance.now();
feed.tell('start');
const progress = (status: FeedStatus, seen: number) => {
  const seconds = (performance.now() - started) / 1000;
  const line = `feed ${status.emitted}/${status.total} · strategy saw ${seen} · ${Math.round(seen / seconds).toLocaleString('en')} events/s`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
  else console.log(line);
};

let status: FeedStatus;
let seen: number;
do {
  await new Promise((r) => setTimeout(r, 200));
  seen = (await strategy.ask('seen')) as number;
  status = (await feed.ask('status')) as FeedStatus;
  progress(status, seen);
} while (seen < total);
if (process.stdout.isTTY) process.stdout.write('\n');

const summary = (await decisions.ask('summary')) as DecisionSummary;
const seconds = (performance.now() - started) / 1000;
const metrics = system.metrics();
console.log(`\nProcessed ${total.toLocaleString('en')} price events in ${seconds.toFixed(2)} s (${Math.round(total / seconds).toLocaleString('en')} events/s)`);
console.log(`Decisions: ${summary.total}`);
for (const [symbol, c] of Object.entries(summary.bySymbol)) console.log(`  ${symbol}: ${c.buy} buy, ${c.sell} sell`);
console.log(`Latest: ${summary.latest.map((d) => `${d.side} ${d.symbol} @ ${d.price.toFixed(2)}`).join(', ')}`);
console.log(`Messages handled: ${metrics.messagesHandled.toLocaleString('en')} · dead letters: ${metrics.deadLetters}`);
await system.shutdown();
