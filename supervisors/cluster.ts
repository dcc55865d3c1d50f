/**
 * The cluster demo (`npm run cluster`): a nats-server on a free loopback port and three nodes of
 * the trading system, each its own process (supervisors/cluster-node.ts):
 *   a — price feed → strategy → order router; each order is a remote ask to an exchange gateway,
 *       each fill booked on the ledger (acknowledged batches, sent again until booked)
 *   c — an exchange gateway, and the ledger (/ledger), its snapshots replicated to b
 *   b — an exchange gateway, the ledger's replica partner (/ledger-replica), and a standby
 *       watching c's ledger
 * It prints the work per node every second, kills node c with SIGKILL, and shows the work going
 * on: asks to c fail at once with NodeDownError and are routed to b, b's standby sees c down and
 * starts the ledger on b from the replica, and a books the fills c had not acknowledged there.
 * Then it shuts everything down, checks every fill was booked exactly once, and exits 0 (1 if not).
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
  bookRetries: number;
  filledBy: Record<string, number>;
  ledgerNode: string;
  unbooked: number;
  acked: number;
  ledgerHere: { booked: number; seq: number; restoredFrom?: { booked: number }; tookOverAfterMs?: number } | null;
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
function launch(node: string, role: string, options: string[] = []): Child {
  const c = spawnChild(script, [nats.url, node, role, ...options]);
  c.onLine((line) => {
    if (line.stats) latest.set(node, line.stats as Stats);
  });
  nodes.set(node, c);
  return c;
}

try {
  // c first: b's standby watches c's ledger, which must be there.
  const c = launch('c', 'gateway', ['ledger=b']);
  await c.next((l) => l.ready === true);
  const b = launch('b', 'gateway', ['standby=c']);
  await b.next((l) => l.ready === true);
  const a = launch('a', 'trader', ['venues=b,c', 'ledger=c']);
  await a.next((l) => l.ready === true);
  console.log(
    `${elapsed()}  nodes up: a (feed, strategy, order router; pid ${a.proc.pid}), b (gateway, ledger replica, standby; pid ${b.proc.pid}), c (gateway, ledger; pid ${c.proc.pid})`,
  );

  const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));
  let previous = new Map<string, Stats>();
  let lastAt = performance.now();
  const report = () => {
    const now = performance.now();
    const dt = (now - lastAt) / 1000;
    lastAt = now;
    const rate = (node: string, field: 'ticks' | 'orders' | 'fills') => k(((latest.get(node)?.[field] ?? 0) - (previous.get(node)?.[field] ?? 0)) / dt);
    const sa = latest.get('a');
    const ledgerOn = sa?.ledgerNode ?? '?';
    const ledger = dead.has(ledgerOn) ? null : latest.get(ledgerOn)?.ledgerHere;
    const parts = [
      `a: ${rate('a', 'ticks').padStart(6)} ticks/s ${rate('a', 'orders').padStart(5)} orders/s`,
      ...['b', 'c'].map((n) => (dead.has(n) ? `${n}:  (dead)         ` : `${n}: ${rate(n, 'fills').padStart(5)} fills/s`)),
      `ledger on ${ledgerOn}: ${ledger?.booked ?? '-'} booked, ${sa?.unbooked ?? 0} waiting`,
      `NodeDownError ${sa?.nodeDown ?? 0}, timeouts ${sa?.timeouts ?? 0}, rerouted ${sa?.rerouted ?? 0}, unfilled ${sa?.unfilled ?? 0}`,
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
  const bookedOnC = latest.get('c')?.ledgerHere?.booked ?? 0;
  console.log(`${elapsed()}  killed node c (SIGKILL, pid ${c.proc.pid}; its ledger had booked ${bookedOnC} fills); its orders go to b from now on`);
  void b
    .next((l) => (l.stats as Stats | undefined)?.ledgerHere?.restoredFrom !== undefined)
    .then((l) => {
      const here = (l.stats as Stats).ledgerHere!;
      console.log(
        `${elapsed()}  b's standby saw c down: the ledger runs on b, restored from the replica with ${here.restoredFrom!.booked} fills booked (${here.tookOverAfterMs!.toFixed(1)} ms to start)`,
      );
    });
  for (let i = 0; i < phase; i++) {
    await tick();
    report();
  }

  a.proc.kill('SIGTERM');
  const final = (await a.next((l) => l.final !== undefined)).final as Stats;
  await a.exited;
  b.proc.kill('SIGTERM');
  const bFinal = (await b.next((l) => l.final !== undefined)).final as Stats;
  await b.exited;
  console.log(`${elapsed()}  stopped a and b`);
  console.log('');
  console.log(`Summary: ${final.ticks} ticks → ${final.orders} orders on node a`);
  console.log(`  filled by b: ${final.filledBy.b ?? 0}, by c: ${final.filledBy.c ?? 0} (c was killed half way; b filled ${bFinal?.fills ?? '?'} by its own count)`);
  console.log(`  asks to the dead node: ${final.nodeDown} failed at once with NodeDownError (slowest ${final.nodeDownMaxMs.toFixed(1)} ms),`);
  console.log(`  ${final.timeouts} in flight when it died failed at their 300 ms deadline; ${final.rerouted} rerouted in all, ${final.unfilled} unfilled`);
  const filled = Object.values(final.filledBy).reduce((s, n) => s + n, 0);
  const lost = final.orders - filled - final.unfilled;
  console.log(`  every order accounted for: ${lost === 0 ? 'yes' : `no (${lost} missing)`}`);
  const booked = final.ledgerNode === 'b' ? (bFinal.ledgerHere?.booked ?? 0) : Number.NaN;
  const restored = bFinal.ledgerHere?.restoredFrom?.booked ?? 0;
  console.log(
    `  ledger: ${filled} fills, ${booked} booked in the end on b: ${restored} restored from c's replica, the rest booked on b; ${final.bookRetries} batches sent again, ${final.unbooked} left unbooked`,
  );
  const exactlyOnce = booked === filled && final.unbooked === 0;
  console.log(`  every fill booked exactly once: ${exactlyOnce ? 'yes' : 'no'}`);
  if (!exactlyOnce) process.exitCode = 1;
} finally {
  for (const n of nodes.values()) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
  await nats.stop();
}
console.log(`${elapsed()}  done`);
process.exit(process.exitCode ?? 0);
