/**
 * `npm run goodput [-- --seed N --seconds S --levels 1,2,4]` — goodput against offered load, from
 * 1× to 10× the pipeline's capacity, the port of the seeds' original coordinator beside Genesis.
 *
 * The world is the scenarios' exchange (world.ts: 3 venues, one order at a time each, 10–20 ms per
 * order, so ≈ 200 orders/s in all). Each level offers Poisson arrivals at k × 200/s for S seconds,
 * no faults, a caller deadline of 5 s, then the driver's drain (driver.ts). Each (level,
 * contestant) runs in a fresh Node process, port and Genesis alternating; the judge (judge.ts)
 * decides every event's outcome. Prints the table and writes bench/GOODPUT.md.
 *
 * Goodput = strict successes (judged success: filled, executed, booked, audited and monitored —
 * and answered within the caller's 5 s deadline) whose answer reached the caller inside the
 * arrival window [0, S), per second of that window.
 *
 * `--child K --contestant port|genesis` (internal) runs one level in this process and prints its
 * result as JSON.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../../actors/rng.js';
import { CONTESTANTS, DEADLINE_MS, type RunResult, runOne } from './driver.js';
import { outcomeOf } from './judge.js';
import { markdownTable } from './report.js';
import { intentsAt, poisson, type Scenario } from './scenarios.js';
import { draw } from './world.js';

/** The exchange's nominal capacity: 3 venues × 1 order at a time ÷ 15 ms mean service time. */
const CAPACITY = 200;
/** The world's default service time per order (world.ts), for the exchange's busy share. */
const SERVICE_MS: [number, number] = [10, 20];
const DEFAULT_LEVELS = [1, 2, 4, 6, 8, 10];
const ORDER = ['port', 'genesis'] as const;
const RESULT = '@@GOODPUT ';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function usage(message: string): never {
  console.error(`goodput: ${message} (usage: npm run goodput [-- --seed N --seconds S --levels 1,2,4])`);
  process.exit(2);
}

interface Options {
  seed: number;
  seconds: number;
  levels: number[];
  child?: number;
  contestant?: string;
}

function options(): Options {
  let values: { seed?: string; seconds?: string; levels?: string; child?: string; contestant?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { seed: { type: 'string' }, seconds: { type: 'string' }, levels: { type: 'string' }, child: { type: 'string' }, contestant: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usage((error as Error).message.split('\n')[0]!);
  }
  const seed = values.seed === undefined ? 7 : Number(values.seed);
  if (values.seed?.trim() === '' || !Number.isSafeInteger(seed)) usage(`--seed must be an integer (got '${values.seed}')`);
  const seconds = values.seconds === undefined ? 8 : Number(values.seconds);
  if (values.seconds?.trim() === '' || !Number.isFinite(seconds) || seconds < 1 || seconds > 120)
    usage(`--seconds must be a number of seconds in [1, 120] (got '${values.seconds}')`);
  const level = (text: string): number => {
    const k = Number(text);
    if (text.trim() === '' || !Number.isFinite(k) || k <= 0 || k > 20) usage(`a load level must be a multiple of capacity in (0, 20] (got '${text}')`);
    return k;
  };
  const levels = values.levels === undefined ? DEFAULT_LEVELS : values.levels.split(',').map(level);
  if (new Set(levels).size !== levels.length) usage(`--levels has a repeated level ('${values.levels}')`);
  const child = values.child === undefined ? undefined : level(values.child);
  const contestant = values.contestant;
  if (contestant !== undefined && !(contestant in CONTESTANTS)) usage(`unknown contestant '${contestant}'`);
  if ((child === undefined) !== (contestant === undefined)) usage('--child and --contestant go together (internal)');
  return { seed, seconds, levels: [...levels].sort((a, b) => a - b), child, contestant };
}

/** Poisson arrivals at k × capacity for `seconds`, no faults; its own seeded stream per level. */
function levelScenario(k: number, seconds: number): Scenario {
  const perSecond = k * CAPACITY;
  const durationMs = seconds * 1000;
  return {
    name: `goodput-${k}x`,
    seedsClaim: '–',
    summary: `Poisson arrivals at ${perSecond}/s (${k} × capacity) for ${seconds} s; no faults`,
    durationMs,
    build(seed) {
      const random = seededRandom((seed + 1_000 + Math.round(k * 100)) >>> 0);
      return { intents: intentsAt(random, poisson(random, perSecond, 0, durationMs)), faults: [], notes: [] };
    },
  };
}

interface Level {
  k: number;
  contestant: string;
  seconds: number;
  offered: number;
  /** Strict successes answered inside the arrival window, per second. */
  goodput: number;
  /** Strict successes among the events that arrived in the second half of the window, per second: the steady state. */
  sustained: number;
  /** Strict successes over all events of the level (answered whenever). */
  strict: number;
  /** Judged success but answered after the caller's deadline (not counted as strict). */
  late: number;
  /** Orders the exchange executed inside the arrival window, per second (work done, useful or not). */
  executedPerSecond: number;
  /** Service time of the orders executed inside the window ÷ (3 venues × the window), %: how busy the exchange was. */
  busyPct: number;
  /** Event-loop utilization (0–1) of the run's process in each second of the window. */
  eluBySecond: number[];
  /** Orders executed in each second of the window. */
  executedBySecond: number[];
  /** Latency of strict successes, submit → claim, ms. */
  p50: number;
  p99: number;
  run: RunResult;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function child(k: number, contestant: string, seed: number, seconds: number): Promise<Level> {
  const windowMs = seconds * 1000;
  let inWindow = 0;
  let strict = 0;
  let late = 0;
  let secondHalf = 0;
  let executedInWindow = 0;
  let busyMs = 0;
  const executedBySecond = Array.from({ length: Math.ceil(seconds) }, () => 0);
  const eluBySecond: number[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  const latencies: number[] = [];
  const run = await runOne(levelScenario(k, seconds), contestant, seed, {
    onBegin() {
      let last = performance.eventLoopUtilization();
      sampler = setInterval(() => {
        const now = performance.eventLoopUtilization();
        eluBySecond.push(performance.eventLoopUtilization(now, last).utilization);
        last = now;
        if (eluBySecond.length >= Math.ceil(seconds)) clearInterval(sampler);
      }, 1000);
    },
    inspect(records, world, booked) {
      for (const record of records) {
        if (outcomeOf(record, world, booked).outcome !== 'success') continue;
        const latency = record.claimAt - record.submitAt;
        if (latency > DEADLINE_MS) {
          late++;
          continue;
        }
        strict++;
        latencies.push(latency);
        if (record.claimAt < windowMs) inWindow++;
        if (record.intent.at >= windowMs / 2) secondHalf++;
      }
      for (const fill of world.executions.values()) {
        if (fill.at >= windowMs) continue;
        executedInWindow++;
        executedBySecond[Math.floor(fill.at / 1000)]!++;
        busyMs += SERVICE_MS[0] + draw(seed, 'service', fill.venue, fill.id) * (SERVICE_MS[1] - SERVICE_MS[0]);
      }
    },
  });
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  return {
    k,
    contestant,
    seconds,
    offered: run.events / seconds,
    goodput: inWindow / seconds,
    sustained: secondHalf / (seconds / 2),
    strict,
    late,
    executedPerSecond: executedInWindow / seconds,
    busyPct: (100 * busyMs) / (3 * windowMs),
    executedBySecond,
    eluBySecond,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    run,
  };
}

/** Runs one (level, contestant) in a fresh process; its result comes back on stdout. */
function runInChild(k: number, contestant: string, seed: number, seconds: number): Level {
  const args = [
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--child',
    String(k),
    '--contestant',
    contestant,
    '--seed',
    String(seed),
    '--seconds',
    String(seconds),
  ];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'], timeout: 10 * 60_000 });
  const line = run.stdout?.split('\n').find((l) => l.startsWith(RESULT));
  if (run.status !== 0 || line === undefined) throw new Error(`${k}×/${contestant} failed (exit ${run.status ?? run.signal}): ${(run.stdout ?? '').slice(-2000)}`);
  return JSON.parse(line.slice(RESULT.length)) as Level;
}

// ---- formatting ----

const pct = (x: number) => `${x.toFixed(1)} %`;
const ms = (x: number | null) => (x === null || Number.isNaN(x) ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);
const share = (n: number, total: number) => pct((100 * n) / Math.max(1, total));
const goodputPct = (l: Level) => (100 * l.goodput) / CAPACITY;
const sustainedPct = (l: Level) => (100 * l.sustained) / CAPACITY;

const HEADER = [
  'load',
  'offered/s',
  'contestant',
  'goodput/s',
  'goodput % of capacity',
  'sustained (2nd half) %',
  'success %',
  'degraded %',
  'failed %',
  'orphan work',
  'lost',
  'p50 / p99 (successes)',
  'executed/s',
  'exchange busy',
];

function row(l: Level): string[] {
  const v = l.run.verdicts;
  return [
    `${l.k}×`,
    l.offered.toFixed(0),
    l.contestant,
    l.goodput.toFixed(1),
    pct(goodputPct(l)),
    pct(sustainedPct(l)),
    share(l.strict, v.total),
    share(v.counts.degraded, v.total),
    share(v.counts.failed + v.counts.orphan, v.total),
    String(v.orphanWork),
    String(v.counts.lost),
    `${ms(l.p50)} / ${ms(l.p99)}`,
    l.executedPerSecond.toFixed(1),
    pct(l.busyPct),
  ];
}

/** A measure (% of capacity) against offered load (× capacity): P port, G Genesis, * both. */
function chart(levels: Level[], title: string, measure: (l: Level) => number): string[] {
  const ks = [...new Set(levels.map((l) => l.k))].sort((a, b) => a - b);
  const maxK = Math.max(10, ...ks);
  const width = 61;
  const col = (k: number) => Math.round((k / maxK) * (width - 1));
  const step = 5;
  const top = Math.max(110, Math.ceil(Math.max(...levels.map(measure)) / step) * step);
  const grid: string[][] = [];
  for (let y = 0; y <= top / step; y++) grid.push(Array.from({ length: width }, () => ' '));
  // A row spans `step` %: a point sits on the row of its value rounded down (95.0–99.9 % on the 95 row).
  const yOf = (p: number) => Math.max(0, Math.floor(p / step));
  // The 95 % line (rounded to its row), drawn first so that the points stay on top.
  for (let x = 0; x < width; x += 2) grid[yOf(95)]![x] = '·';
  for (const l of levels) {
    const cell = grid[yOf(measure(l))]!;
    const x = col(l.k);
    const mark = l.contestant === 'port' ? 'P' : 'G';
    cell[x] = cell[x] === 'P' || cell[x] === 'G' ? (cell[x] === mark ? mark : '*') : mark;
  }
  const lines = [`${title}, % of capacity (P port, G Genesis, * both; ···· 95 %)`];
  for (let y = grid.length - 1; y >= 0; y--) {
    const label = y % 2 === 0 || y === yOf(95) ? String(y * step).padStart(4) : '    ';
    lines.push(`${y === yOf(95) ? ' 95 ' : label} |${grid[y]!.join('').trimEnd()}`);
  }
  const axis = Array.from({ length: width }, () => '-');
  const labels = Array.from({ length: width + 4 }, () => ' ');
  for (const k of ks) {
    axis[col(k)] = '+';
    const text = `${k}×`;
    const at = col(k) - Math.floor(text.length / 2) + 1;
    for (let i = 0; i < text.length; i++) labels[Math.max(0, at + i)] = text[i]!;
  }
  lines.push(`     +${axis.join('')}`);
  lines.push(`      ${labels.join('').trimEnd()}   offered load, × capacity (${CAPACITY}/s)`);
  return lines;
}

function top(map: Record<string, number | string>, n: number): string {
  const entries = Object.entries(map)
    .filter(([, v]) => typeof v === 'number' && v !== 0)
    .sort((a, b) => (b[1] as number) - (a[1] as number));
  if (entries.length === 0) return '–';
  const shown = entries.slice(0, n).map(([k, v]) => `${k}: ${v}`);
  if (entries.length > n) shown.push(`… ${entries.length - n} more`);
  return shown.join('; ');
}

function git(...args: string[]): string {
  return spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout ?? '';
}

/** Paths changed or untracked in the work tree (porcelain v1: two status letters, a space, the path), but this report. */
function dirtyPaths(): string[] {
  return git('status', '--porcelain')
    .split('\n')
    .filter((line) => line.length > 3)
    .map((line) => line.slice(3))
    .filter((path) => path !== 'bench/GOODPUT.md');
}

function evidence(l: Level): string[] {
  const v = l.run.verdicts;
  const c = v.counts;
  return [
    `**${l.k}× ${l.contestant}** — ${v.total} events (${l.offered.toFixed(0)}/s): success ${c.success} (${l.late} of them after the deadline), degraded ${c.degraded}, failed ${c.failed}, orphan ${c.orphan}, lost ${c.lost}; orphan work ${v.orphanWork}; run ${ms(l.run.wallMs)}, driver lag max ${ms(l.run.maxLagMs)}`,
    '',
    `- success % per second of arrival: ${v.timeline.map((x) => (Number.isNaN(x) ? '–' : x)).join(' ')}`,
    `- orders executed per second of the window: ${l.executedBySecond.join(' ')}`,
    `- event-loop utilization per second of the window: ${l.eluBySecond.map((u) => u.toFixed(2)).join(' ')}`,
    `- failed/orphan by reason: ${top(v.failedBy, 6)}`,
    `- degraded by reason: ${top(v.degradedBy, 6)}`,
    `- lost by reason: ${top(v.lostBy, 6)}`,
    `- counters: ${top(l.run.report.diagnostics, 16)}`,
    `- world: ${top(l.run.world, 12)}`,
    '',
  ];
}

function markdown(levels: Level[], seed: number, seconds: number, totalMs: number): string {
  const cpus = os.cpus();
  const dirty = dirtyPaths();
  const measured = Math.max(...levels.map((l) => l.executedPerSecond));
  const best = (name: string) => levels.filter((l) => l.contestant === name);
  const summary = (name: string, measure: (l: Level) => number) => {
    const ls = best(name);
    if (ls.length === 0) return '–';
    const lo = ls.reduce((a, b) => (measure(b) < measure(a) ? b : a));
    const hi = ls.reduce((a, b) => (measure(b) > measure(a) ? b : a));
    return `${pct(measure(lo))} (${lo.k}×) – ${pct(measure(hi))} (${hi.k}×)`;
  };
  return [
    '# Goodput against offered load: the original coordinator vs Genesis',
    '',
    `Generated by \`npm run goodput\` (seed ${seed}, ${seconds} s of arrivals per level, levels ${levels
      .filter((l) => l.contestant === 'port')
      .map((l) => `${l.k}×`)
      .join(', ')}); total wall time ${ms(totalMs)}.`,
    '',
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${cpus[0]?.model.trim() ?? '?'} × ${cpus.length}`,
    `- Node ${process.version}, ${os.platform()} ${os.arch()}`,
    `- Commit ${git('rev-parse', '--short', 'HEAD').trim() || '?'}, dirty: ${dirty.length === 0 ? 'no' : `yes (changed or untracked: ${dirty.join(', ')})`}`,
    '',
    `Capacity: the exchange's nominal ${CAPACITY} orders/s (3 venues, one order at a time each, 10–20 ms uniform per order,`,
    `15 ms mean). The highest exchange throughput measured inside an arrival window here: ${measured.toFixed(1)} orders/s.`,
    `Goodput over the levels, lowest – highest: port ${summary('port', goodputPct)}; Genesis ${summary('genesis', goodputPct)}.`,
    `Sustained goodput (2nd half): port ${summary('port', sustainedPct)}; Genesis ${summary('genesis', sustainedPct)}.`,
    '',
    markdownTable(HEADER, levels.map(row)),
    '',
    '```',
    ...chart(levels, 'goodput', goodputPct),
    '```',
    '',
    '```',
    ...chart(levels, 'sustained goodput (arrivals of the 2nd half of the window)', sustainedPct),
    '```',
    '',
    '## How it is measured',
    '',
    `- Each level offers Poisson arrivals at k × ${CAPACITY}/s for ${seconds} s (seeded per level, the same events for both`,
    '  contestants), no faults, each event with a caller deadline of 5 s; then the driver drains (up to 7 s for open',
    '  claims, then 1 s for bookings and notifications). Each (level, contestant) runs in a fresh Node process, port and',
    "  Genesis alternating, on the scenarios' world, driver and judge (bench/scenarios/).",
    '- **goodput** = strict successes answered inside the arrival window, per second of the window. A strict success is an',
    '  event the judge calls success (claimed filled, executed by the exchange, in the final portfolio, audited and',
    '  monitored) whose claim reached the caller within its 5 s deadline (submit → claim). Counting answers inside the',
    "  window, not all successes of the window's arrivals, keeps a queue that drains after the window from counting as",
    '  throughput: a system holding 2 s of backlog would otherwise show 125 % of capacity over an 8 s window.',
    '- **sustained** = strict successes among the events that *arrived* in the second half of the window, per second of',
    '  that half: the steady state, once the queues have filled. Over a short window a design whose backlog has',
    '  outgrown the deadline still shows goodput from its first second of arrivals, answered seconds later; this',
    '  column shows what it delivers to the callers arriving after that.',
    "- success % = strict successes of all the level's events, answered whenever; degraded % = marked `not-placed`",
    '  refusals, not executed; failed % = typed failures plus orphans (executed though the caller was told otherwise);',
    '  orphan work = executed orders whose caller was not told `filled`; lost = no claim by the end of the drain, or',
    '  filled but not booked/notified; p50/p99 = submit → claim of strict successes; executed/s = orders the exchange',
    '  executed inside the window (useful or not); exchange busy = the seeded service time of those orders ÷ (3 venues ×',
    '  the window) — below 100 % the venues sat idle or their timers fired late (a busy event loop). The evidence per',
    "  run has the orders executed and the event-loop utilization of the run's process (driver, contestant and",
    '  exchange share one loop) in each second of the window.',
    '- Real time on a shared 2-core machine: a rerun replays the same arrivals but not the same timings; figures move by',
    '  a point or two. At high levels the driver, the contestant and the exchange share one event loop ("driver lag max" below:',
    '  how late the driver submitted an arrival).',
    '',
    '## Evidence per run',
    '',
    ...levels.flatMap(evidence),
  ].join('\n');
}

async function main(): Promise<void> {
  const { seed, seconds, levels, child: k, contestant } = options();
  if (k !== undefined && contestant !== undefined) {
    const result = await child(k, contestant, seed, seconds);
    process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }
  const started = performance.now();
  const results: Level[] = [];
  for (const level of levels) {
    for (const name of ORDER) {
      const t = performance.now();
      const l = runInChild(level, name, seed, seconds);
      results.push(l);
      const v = l.run.verdicts;
      console.log(
        `${`${level}×`.padStart(4)} ${name.padEnd(8)} goodput ${l.goodput.toFixed(1).padStart(6)}/s ${pct(goodputPct(l)).padStart(8)}  ` +
          `(success ${l.strict}, degraded ${v.counts.degraded}, failed ${v.counts.failed}, orphan ${v.counts.orphan}, lost ${v.counts.lost} of ${v.total})  ` +
          `${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
  }
  const totalMs = performance.now() - started;
  console.log(`\n${markdownTable(HEADER, results.map(row))}\n`);
  console.log(chart(results, 'goodput', goodputPct).join('\n'));
  console.log(chart(results, 'sustained goodput (arrivals of the 2nd half of the window)', sustainedPct).join('\n'));
  console.log(`\ntotal ${(totalMs / 1000).toFixed(1)} s`);
  const out = resolve(root, 'bench/GOODPUT.md');
  writeFileSync(out, `${markdown(results, seed, seconds, totalMs)}\n`);
  console.log(`wrote ${relative(root, out)}`);
}

await main();
