/**
 * The cluster demo (`npm run cluster`): a nats-server on a free loopback port and three nodes of
 * the trading system, each its own process (supervisors/cluster-node.ts):
 *   a — price feed → strategy → order router; each order is a remote ask to an exchange gateway
 *   b, c — exchange gateways at /trading/exchange
 * It prints the work per node every second, kills node c with SIGKILL, and shows the orders
 * going on through b: asks to c fail at once with NodeDownError and are routed to b (an ask that
 * was in flight when c died fails at its 300 ms deadline and is routed too). Then it shuts
 * everything down and exits 0.
 *
 *   npm run cluster -- --seconds 4
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Child, requireNatsServer, spawnChild, startNatsServer } from './cluster-nats.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' } } });
const phase = Number(values.seconds);
if (!Number.isInteger(phase) || phase <= 0) {
  console.error(`--seconds must be a positive integer (got ${values.seconds})`);
  process.exit(2);
}

interface Stats {
  fills: number;
  ticks: number;
  orders: number;
  unfilled: number;
  rerouted: number;
  nodeDown: number;
  timeouts: number;
  nodeDownMaxMs: number;
  filledBy: Record<string, number>;
}

const script = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(4)}s`;

requireNatsServer();
const nats = await startNatsServer();
console.log(`${elapsed()}  nats-server on ${nats.url}`);

const nodes = new Map<string, Child>();
const latest = new Map<string, Stats>();
const dead = new Set<string>();
function launch(node: string, role: string, venues: string[] = []): Child {
  const c = spawnChild(script, [nats.url, node, role, ...venues]);
  c.onLine((line) => {
    if (line.stats) latest.set(node, line.stats as Stats);
  });
  nodes.set(node, c);
  return c;
}

try {
  const b = launch('b', 'gateway');
  const c = launch('c', 'gateway');
  await Promise.all([b, c].map((n) => n.next((l) => l.ready === true)));
  const a = launch('a', 'trader', ['b', 'c']);
  await a.next((l) => l.ready === true);
  console.log(`${elapsed()}  nodes up: a (feed, strategy, order router; pid ${a.proc.pid}), b and c (exchange gateways; pids ${b.proc.pid}, ${c.proc.pid})`);

  const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));
  let previous = new Map<string, Stats>();
  let lastAt = performance.now();
  const report = () => {
    const now = performance.now();
    const dt = (now - lastAt) / 1000;
    lastAt = now;
    const rate = (node: string, field: keyof Omit<Stats, 'filledBy'>) => k(((latest.get(node)?.[field] ?? 0) - (previous.get(node)?.[field] ?? 0)) / dt);
    const sa = latest.get('a');
    const parts = [
      `a: ${rate('a', 'ticks').padStart(6)} ticks/s ${rate('a', 'orders').padStart(5)} orders/s`,
      ...['b', 'c'].map((n) => (dead.has(n) ? `${n}:  (dead)         ` : `${n}: ${rate(n, 'fills').padStart(5)} fills/s`)),
      `NodeDownError ${sa?.nodeDown ?? 0} (slowest ${(sa?.nodeDownMaxMs ?? 0).toFixed(1)} ms), timeouts ${sa?.timeouts ?? 0}, rerouted ${sa?.rerouted ?? 0}, unfilled ${sa?.unfilled ?? 0}`,
    ];
    console.log(`${elapsed()}  ${parts.join(' | ')}`);
    previous = new Map(latest);
  };
  const tick = () => new Promise((r) => setTimeout(r, 1000));

  for (let i = 0; i < phase; i++) {
    await tick();
    report();
  }
  c.proc.kill('SIGKILL');
  dead.add('c');
  await c.exited;
  console.log(`${elapsed()}  killed node c (SIGKILL, pid ${c.proc.pid}); its orders go to b from now on`);
  for (let i = 0; i < phase; i++) {
    await tick();
    report();
  }

  a.proc.kill('SIGTERM');
  const final = (await a.next((l) => l.final !== undefined)).final as Stats;
  await a.exited;
  b.proc.kill('SIGTERM');
  const bFinal = latest.get('b');
  await b.exited;
  console.log(`${elapsed()}  stopped a and b`);
  console.log('');
  console.log(`Summary: ${final.ticks} ticks → ${final.orders} orders on node a`);
  console.log(`  filled by b: ${final.filledBy.b ?? 0}, by c: ${final.filledBy.c ?? 0} (c was killed half way; b filled ${bFinal?.fills ?? '?'} by its own count)`);
  console.log(`  asks to the dead node: ${final.nodeDown} failed at once with NodeDownError (slowest ${final.nodeDownMaxMs.toFixed(1)} ms),`);
  console.log(`  ${final.timeouts} in flight when it died failed at their 300 ms deadline; ${final.rerouted} rerouted in all, ${final.unfilled} unfilled`);
  const lost = final.orders - Object.values(final.filledBy).reduce((s, n) => s + n, 0) - final.unfilled;
  console.log(`  every order accounted for: ${lost === 0 ? 'yes' : `no (${lost} missing)`}`);
} finally {
  for (const n of nodes.values()) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
  await nats.stop();
}
console.log(`${elapsed()}  done`);
process.exit(0);
