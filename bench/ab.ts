/**
 * `npx tsx bench/ab.ts <baseline-checkout> [rounds]` — the runtime's hot-path figures for this
 * checkout beside the same figures for another checkout of Genesis (a baseline commit, e.g. a
 * `git worktree`), in alternating rounds, each round a fresh process per contestant (so neither
 * warms the other's JIT), medians and per-round ratios. For checking a change for regressions.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

type Figures = Record<string, number>;

/** One contestant's figures, measured in this process (child mode). */
async function measure(root: string): Promise<Figures> {
  const { ActorSystem, defineActor } = await import(resolve(root, 'src/index.ts'));
  const system = await ActorSystem.start({ logger: { level: 'silent' }, store: false });
  const Counter = defineActor({
    init: () => ({ n: 0 }),
    receive: (s: { n: number }, m: unknown, ctx: { reply(v: unknown): void }) => {
      if (m === 'get') return void ctx.reply(s.n);
      return { n: s.n + 1 };
    },
  });
  const Echo = defineActor({ receive: (_s: unknown, m: unknown, ctx: { reply(v: unknown): void }) => void ctx.reply(m) });
  const out: Figures = {};
  const rate = (n: number, ms: number) => (n / ms) * 1000;
  // tell, 1 actor, fresh mailbox
  let c = system.spawn(Counter);
  let t = performance.now();
  for (let i = 0; i < 1_000_000; i++) c.tell(1);
  await c.ask('get');
  out['tell 1 actor fresh (msg/s)'] = rate(1_000_000, performance.now() - t);
  // tell, 1 actor, warm (same actor again)
  t = performance.now();
  for (let i = 0; i < 1_000_000; i++) c.tell(1);
  await c.ask('get');
  out['tell 1 actor warm (msg/s)'] = rate(1_000_000, performance.now() - t);
  // tell, 1000 actors
  const many = Array.from({ length: 1000 }, () => system.spawn(Counter));
  for (const r of many) for (let i = 0; i < 100; i++) r.tell(1);
  await Promise.all(many.map((r) => r.ask('get')));
  t = performance.now();
  for (let i = 0; i < 1000; i++) for (const r of many) r.tell(1);
  await Promise.all(many.map((r) => r.ask('get')));
  out['tell 1000 actors warm (msg/s)'] = rate(1_000_000, performance.now() - t);
  // ask
  const e = system.spawn(Echo);
  for (let i = 0; i < 20_000; i++) await e.ask(i);
  t = performance.now();
  for (let i = 0; i < 200_000; i++) await e.ask(i);
  out['ask sequential (asks/s)'] = rate(200_000, performance.now() - t);
  t = performance.now();
  for (let i = 0; i < 2000; i++) await Promise.all(Array.from({ length: 100 }, (_, k) => e.ask(k)));
  out['ask 100 in flight (asks/s)'] = rate(200_000, performance.now() - t);
  // spawn
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  t = performance.now();
  const keep = [];
  for (let i = 0; i < 100_000; i++) keep.push(system.spawn(Echo));
  out['spawn 100k (ms)'] = performance.now() - t;
  globalThis.gc?.();
  out['heap per idle actor (B)'] = (process.memoryUsage().heapUsed - before) / 100_000;
  c = keep[0];
  await system.shutdown();
  return out;
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await measure(process.argv[3]!)));
} else {
  const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const base = resolve(process.argv[2] ?? '');
  const rounds = Number(process.argv[3] ?? 7);
  const runs: Record<'this' | 'base', Figures[]> = { this: [], base: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [who, root] of [
      ['base', base],
      ['this', here],
    ] as const) {
      const json = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', root], { encoding: 'utf8' });
      runs[who].push(JSON.parse(json.trim().split('\n').pop()!));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`| figure | this | baseline | this ÷ baseline (median of per-round ratios) |\n| --- | --- | --- | --- |`);
  for (const key of Object.keys(runs.this[0]!)) {
    const a = runs.this.map((f) => f[key]!);
    const b = runs.base.map((f) => f[key]!);
    const ratios = a.map((x, i) => x / b[i]!);
    const fmt = (x: number) => (x >= 1e5 ? `${(x / 1e6).toFixed(2)} M` : x.toFixed(1));
    console.log(`| ${key} | ${fmt(median(a))} | ${fmt(median(b))} | ${median(ratios).toFixed(2)}× |`);
  }
}
