/**
 * `npm run bench` — runs every registered suite, prints the table and writes bench/RESULTS.md.
 *
 *   npm run bench                      full run (7 measured rounds, 1 warm-up), ~2 min
 *   npm run bench -- --quick           smoke test: 2 rounds, sizes ÷10, writes tmp/RESULTS.quick.md
 *   npm run bench -- --only=ask        only experiments whose title contains "ask"
 *   npm run bench -- --rounds=9 --out=tmp/x.md
 *
 * Heap figures need global.gc: without --expose-gc this script re-executes itself with it.
 * To add a suite (supervision restarts, breakers, snapshots…), write bench/<name>.ts exporting
 * a `Suite` (see harness.ts and core.ts) and add it to SUITES below.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { core } from './core.ts';
import { resilience } from './resilience.ts';
import { snapshots } from './snapshots.ts';
import { supervision } from './supervision.ts';
import { CONTESTANTS, LABELS, type Options, type Row, runExperiment, sampleDump, type Suite, table } from './harness.ts';

const SUITES: Suite[] = [core, supervision, snapshots, resilience];

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: root,
  });
  process.exit(child.status ?? 1);
}

function parseArgs(argv: string[]) {
  const flag = (name: string) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const value = (name: string) => flag(name)?.split('=').slice(1).join('=') || undefined;
  const quick = flag('quick') !== undefined;
  const options: Options = {
    quick,
    rounds: Number(value('rounds') ?? (quick ? 2 : 7)),
    warmup: 1,
    scale: quick ? 0.1 : 1,
  };
  const out = resolve(root, value('out') ?? (quick ? 'tmp/RESULTS.quick.md' : 'bench/RESULTS.md'));
  return { options, only: value('only'), out };
}

function machine(): string[] {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((c) => c.model.trim()))].join(', ');
  return [
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${models} × ${cpus.length}${cpus[0]?.speed ? ` at ${cpus[0].speed} MHz` : ' (clock speed not reported)'}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.release()} ${os.arch()}`,
  ];
}

function notes(rows: Row[], noteLines: string[]): string {
  return [
    '## How it was measured',
    '',
    '- Each experiment runs its contestants in turn (Genesis, nact, XState fromTransition, XState machine, Node floor),',
    '  round after round; the first round warms up and is discarded. Values are medians over the measured rounds.',
    '- `G/peer` is the median of the per-round ratios Genesis ÷ peer (each ratio compares runs seconds apart, which',
    "  cancels this machine's CPU speed swings). Above 1 means Genesis is faster for rates, slower for times and bytes.",
    '- A forced GC precedes every run. Asks go through the public API from outside any actor.',
    '- tell, fresh: new actors (and arrays, for the floor) each run, so mailboxes grow inside the timed part;',
    '  tell, warm: the actors of the previous round, whose mailboxes are already grown (a long-running system).',
    '- Heap per actor = heapUsed growth after a forced GC, ÷ actors; includes the array slot holding each ref.',
    '- n/a: XState v5 has no request/reply; `send()` returns void and a reply needs a second actor plus',
    '  `sendTo`/`emit` with hand-made correlation, so there is no ask to compare. — : not measured.',
    '',
    '### What each contestant did',
    '',
    ...noteLines,
    '',
    '### Every round',
    '',
    '```',
    sampleDump(rows),
    '```',
  ].join('\n');
}

async function main(): Promise<void> {
  const { options, only, out } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const rows: Row[] = [];
  const noteLines: string[] = [];
  for (const suite of SUITES) {
    for (const experiment of suite.experiments(options)) {
      if (only !== undefined && !experiment.title.includes(only)) continue;
      const t0 = performance.now();
      rows.push(...(await runExperiment(suite.name, experiment, options)));
      process.stderr.write(`  ${suite.name}: ${experiment.title} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
      noteLines.push(`- **${experiment.title}**`);
      for (const id of CONTESTANTS) {
        const note = experiment.notes?.[id];
        if (note !== undefined) noteLines.push(`  - ${LABELS[id]}: ${note}`);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const rendered = table(rows);
  const mode = options.quick ? 'quick (sizes ÷10)' : 'full';
  const summary = `${mode}, ${options.rounds} measured rounds + ${options.warmup} warm-up, ${seconds.toFixed(0)} s`;
  console.log(`\n${rendered}\n\n${summary}`);

  const markdown = [
    '# Genesis benchmarks',
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand.',
    '',
    ...machine(),
    `- Run: ${summary}`,
    '',
    rendered,
    '',
    notes(rows, noteLines),
    '',
    // The hand-written analysis of missed targets (bench/LIMITS.md), when present.
    ...(existsSync(resolve(root, 'bench/LIMITS.md')) ? [readFileSync(resolve(root, 'bench/LIMITS.md'), 'utf8')] : []),
  ].join('\n');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  console.log(`written to ${relative(process.cwd(), out)}`);
}

await main();
