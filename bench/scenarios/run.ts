/**
 * `npm run scenarios [-- --scenario NAME --seed N]` — the seeds' five conditions, run against the
 * port of the original coordinator and against Genesis with the same seeded arrivals and faults.
 * Each (scenario, contestant) runs in a fresh Node process (so neither inherits the other's
 * timers, heap or JIT); prints the table and writes bench/SCENARIOS.md (a single scenario:
 * tmp/SCENARIOS.<name>.md).
 *
 * `--contestant port|genesis` (internal) runs one contestant in this process and prints its
 * result as JSON. SCENARIOS_DEBUG=1 makes the Genesis contestant log every runtime event, the
 * tree's non-running actors every 250 ms and each failed claim's steps on stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONTESTANTS, type RunResult, runOne } from './driver.js';
import { HEADER, markdown, markdownTable, row, type Section } from './report.js';
import { SCENARIOS, scenarioNamed } from './scenarios.js';

const RESULT = '@@RESULT ';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function usage(message: string): never {
  console.error(`scenarios: ${message} (usage: npm run scenarios [-- --scenario ${SCENARIOS.map((s) => s.name).join('|')} --seed N])`);
  process.exit(2);
}

function options() {
  let values: { scenario?: string; seed?: string; contestant?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { scenario: { type: 'string' }, seed: { type: 'string' }, contestant: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usage((error as Error).message.split('\n')[0]!);
  }
  const seed = values.seed === undefined ? 7 : Number(values.seed);
  if (!Number.isSafeInteger(seed)) usage(`--seed must be an integer (got ${values.seed})`);
  const scenario = values.scenario;
  if (scenario !== undefined && scenarioNamed(scenario) === undefined) usage(`unknown scenario '${scenario}'`);
  const contestant = values.contestant;
  if (contestant !== undefined && !(contestant in CONTESTANTS)) usage(`unknown contestant '${contestant}'`);
  return { seed, scenario, contestant };
}

/** Runs one (scenario, contestant) in a fresh process; its result comes back on stdout. */
function runInChild(scenario: string, contestant: string, seed: number): RunResult {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--scenario', scenario, '--contestant', contestant, '--seed', String(seed)];
  const child = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT));
  if (child.status !== 0 || line === undefined) throw new Error(`${scenario}/${contestant} failed (exit ${child.status}): ${child.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT.length)) as RunResult;
}

async function main(): Promise<void> {
  const { seed, scenario, contestant } = options();
  if (contestant !== undefined) {
    // Child mode: one run, its result on stdout.
    const result = await runOne(scenarioNamed(scenario ?? 'high-load')!, contestant, seed);
    process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }
  const chosen = scenario === undefined ? SCENARIOS : [scenarioNamed(scenario)!];
  const started = performance.now();
  const sections: Section[] = [];
  for (const s of chosen) {
    const runs: Record<string, RunResult> = {};
    for (const name of ['port', 'genesis']) {
      const t = performance.now();
      runs[name] = runInChild(s.name, name, seed);
      const v = runs[name].verdicts;
      console.log(
        `${s.name.padEnd(16)} ${name.padEnd(8)} strict ${v.strictPct.toFixed(1).padStart(5)} %  ` +
          `(success ${v.counts.success}, degraded ${v.counts.degraded}, failed ${v.counts.failed}, orphan ${v.counts.orphan}, lost ${v.counts.lost} of ${v.total})  ` +
          `${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
    sections.push({ scenario: s, notes: s.build(seed).notes, port: runs.port!, genesis: runs.genesis! });
  }
  const totalMs = performance.now() - started;
  console.log(
    `\n${markdownTable(
      HEADER,
      sections.map((s) => row(s.scenario, s.port, s.genesis)),
    )}`,
  );
  console.log(`\ntotal ${(totalMs / 1000).toFixed(1)} s`);
  const out = scenario === undefined ? resolve(root, 'bench/SCENARIOS.md') : resolve(root, `tmp/SCENARIOS.${scenario}.md`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${markdown(sections, seed, totalMs)}\n`);
  console.log(`wrote ${relative(root, out)}`);
}

await main();
