/**
 * What limits spawn time (bench/LIMITS.md): `node --expose-gc --import tsx bench/spawn-limit.ts`.
 * 1. In one process, alternating over 7 rounds: 100,000 bare actor cells, 100,000 names and paths
 *    put into a Map, 100,000 plain 30-field objects, and 100,000 full spawns — medians.
 * 2. Full spawns in child processes alternating V8's default young generation and a 256 MB
 *    semi-space: how much of the time the scavenger takes.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = 100_000;

if (process.argv[2] === 'breakdown') {
  const { ActorSystem, defineActor } = await import('../src/index.js');
  const { ActorCell } = await import('../src/core/cell.js');
  const { DEFAULT_MAILBOX } = await import('../src/core/mailbox.js');
  const { DEFAULT_CHILD_SPEC } = await import('../src/core/spec.js');
  const Echo = defineActor<null, number>({ receive: (_s, m, ctx) => void ctx.reply(m) });
  const times: Record<string, number[]> = { 'cells alone': [], 'names + paths in a Map': [], 'plain 30-field objects': [], 'full spawn': [] };
  const time = (name: string, fn: () => void) => {
    global.gc?.();
    const t = performance.now();
    fn();
    times[name]!.push(performance.now() - t);
  };
  for (let round = 0; round < 7; round++) {
    const system = await ActorSystem.start({ logger: { level: 'silent' }, store: false });
    const keep: unknown[] = [];
    time('cells alone', () => {
      for (let i = 0; i < N; i++) keep.push(new ActorCell(system, Echo, null, 'x', '/x', undefined, DEFAULT_MAILBOX, DEFAULT_CHILD_SPEC));
    });
    keep.length = 0;
    time('names + paths in a Map', () => {
      const map = new Map<string, string>();
      for (let i = 0; i < N; i++) map.set(`$${i}`, `/$${i}`);
      keep.push(map);
    });
    keep.length = 0;
    time('plain 30-field objects', () => {
      for (let i = 0; i < N; i++) {
        keep.push({
          a: i,
          b: null,
          c: null,
          d: 0,
          e: 1,
          f: null,
          g: null,
          h: null,
          i: null,
          j: null,
          k: null,
          l: null,
          m: null,
          n: null,
          o: null,
          p: null,
          q: null,
          r: null,
          s: null,
          t: null,
          u: null,
          v: null,
          w: null,
          x: null,
          y: null,
          z: null,
          aa: null,
          bb: null,
          cc: null,
          dd: null,
        });
      }
    });
    keep.length = 0;
    time('full spawn', () => {
      for (let i = 0; i < N; i++) system.spawn(Echo);
    });
    await system.shutdown();
  }
  for (const [name, xs] of Object.entries(times)) console.log(`100k ${name}: median ${median(xs).toFixed(0)} ms`);
  process.exit(0);
}

if (process.argv[2] === 'child') {
  const { ActorSystem, defineActor } = await import('../src/index.js');
  const Echo = defineActor<null, number>({ receive: (_s, m, ctx) => void ctx.reply(m) });
  const warm = await ActorSystem.start({ logger: { level: 'silent' }, store: false });
  for (let i = 0; i < 20_000; i++) warm.spawn(Echo);
  await warm.shutdown();
  const system = await ActorSystem.start({ logger: { level: 'silent' }, store: false });
  global.gc?.();
  const t = performance.now();
  for (let i = 0; i < N; i++) system.spawn(Echo);
  process.stdout.write(String(performance.now() - t));
  process.exit(0);
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

const self = fileURLToPath(import.meta.url);
process.stdout.write(execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, 'breakdown']));
const run = (flags: string[]) => Number(execFileSync(process.execPath, [...flags, '--expose-gc', '--import', 'tsx', self, 'child']).toString());
const byDefault: number[] = [];
const bigYoung: number[] = [];
for (let round = 0; round < 7; round++) {
  byDefault.push(run([]));
  bigYoung.push(run(['--max-semi-space-size=256']));
}
console.log(`spawn 100k, default young generation: median ${median(byDefault).toFixed(0)} ms (${byDefault.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`spawn 100k, --max-semi-space-size=256:  median ${median(bigYoung).toFixed(0)} ms (${bigYoung.map((x) => x.toFixed(0)).join(', ')})`);
