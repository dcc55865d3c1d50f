/**
 * Shared benchmark machinery: contestants, rounds, medians, and the results table.
 *
 * This machine's CPU speed can change by about 2x for seconds at a time, so a figure is never
 * taken from one long run. Every contestant of an experiment runs once per round, in a fixed
 * order (Genesis, nact, XState ×2, Node floor), over several rounds after one or more warm-up
 * rounds that are thrown away; the table shows medians. A Genesis/peer ratio is the median of
 * the per-round ratios, so each ratio compares two runs taken seconds apart.
 */

/** The columns of the table, in running order. */
export const CONTESTANTS = ['genesis', 'nact', 'xstateTransition', 'xstateMachine', 'floor'] as const;
export type ContestantId = (typeof CONTESTANTS)[number];

export const LABELS: Record<ContestantId, string> = {
  genesis: 'Genesis',
  nact: 'nact 7',
  xstateTransition: 'XState fromTransition',
  xstateMachine: 'XState machine',
  floor: 'Node floor',
};

const SHORT: Record<ContestantId, string> = {
  genesis: 'G',
  nact: 'nact',
  xstateTransition: 'xs-t',
  xstateMachine: 'xs-m',
  floor: 'floor',
};

/** What one measured run reports, by metric name, e.g. `{ rate: 12.3e6 }` or `{ p50: 0.8, p99: 3 }`. */
export type Metrics = Record<string, number>;

/** One measured run of one contestant. Setup and teardown may happen inside; only what the run
 *  times itself counts. */
export type Run = () => Promise<Metrics>;

/** A contestant that cannot take part in an experiment, and why. */
export interface NotApplicable {
  na: string;
}

export type Unit = 'msg/s' | 'ask/s' | 'µs' | 'ms' | 'B';

/** One row of the table: a metric that the runs of an experiment report. */
export interface Figure {
  metric: string;
  label: string;
  unit: Unit;
  better: 'higher' | 'lower';
  /** The owner's target for Genesis, shown as text; never asserted. */
  target?: string;
}

export interface Experiment {
  title: string;
  figures: Figure[];
  /** A missing contestant is shown as "—" (not measured). */
  contestants: Partial<Record<ContestantId, Run | NotApplicable>>;
  /** Called once after the last round (for fixtures kept across rounds). */
  teardown?: () => Promise<void>;
  /** What each contestant did (sizes), for the notes under the table. */
  notes?: Partial<Record<ContestantId, string>>;
}

export interface Options {
  quick: boolean;
  /** Measured rounds. */
  rounds: number;
  /** Rounds run first and thrown away. */
  warmup: number;
  /** Sizes are multiplied by this (quick mode shrinks them). */
  scale: number;
}

/** A file of experiments, registered in run.ts. */
export interface Suite {
  name: string;
  experiments(options: Options): Experiment[];
}

export interface Row {
  suite: string;
  experiment: string;
  figure: Figure;
  /** Median per contestant; null when not applicable or not measured. */
  median: Partial<Record<ContestantId, number>>;
  /** Median of the per-round Genesis/peer ratios. */
  ratio: Partial<Record<ContestantId, number>>;
  na: Partial<Record<ContestantId, string>>;
  samples: Partial<Record<ContestantId, number[]>>;
}

// ---- Small helpers ---------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The q-quantile (0..1) of latencies already sorted ascending. */
export function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Scales a size for quick mode, keeping at least `min`. */
export function size(n: number, options: Options, min = 1): number {
  return Math.max(min, Math.round(n * options.scale));
}

export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with node --expose-gc (run.ts re-executes itself with it)');
  collect();
  collect();
}

/** Lets pending immediates (and what they schedule) run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark sanity check failed: ${what}`);
}

/** Latencies in µs → { p50, p99 }. */
export function percentiles(latenciesUs: Float64Array): Metrics {
  latenciesUs.sort();
  return { p50: quantile(latenciesUs, 0.5), p99: quantile(latenciesUs, 0.99) };
}

// ---- Running ---------------------------------------------------------------------------

function isRun(entry: Run | NotApplicable | undefined): entry is Run {
  return typeof entry === 'function';
}

/** Runs the experiment's contestants alternately over the rounds and returns one row per figure. */
export async function runExperiment(suite: string, experiment: Experiment, options: Options): Promise<Row[]> {
  const ids = CONTESTANTS.filter((id) => isRun(experiment.contestants[id]));
  const samples = new Map<ContestantId, Map<string, number[]>>(ids.map((id) => [id, new Map()]));
  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const id of ids) {
      gc(); // the previous run's garbage is not this run's cost
      await tick();
      const metrics = await (experiment.contestants[id] as Run)();
      if (round < 0) continue;
      for (const [metric, value] of Object.entries(metrics)) {
        const list = samples.get(id)!.get(metric) ?? [];
        list.push(value);
        samples.get(id)!.set(metric, list);
      }
    }
  }
  await experiment.teardown?.();
  return experiment.figures.map((figure) => {
    const row: Row = { suite, experiment: experiment.title, figure, median: {}, ratio: {}, na: {}, samples: {} };
    const genesis = samples.get('genesis')?.get(figure.metric);
    for (const id of CONTESTANTS) {
      const entry = experiment.contestants[id];
      if (entry !== undefined && !isRun(entry)) row.na[id] = entry.na;
      const values = samples.get(id)?.get(figure.metric);
      if (values === undefined || values.length === 0) continue;
      row.samples[id] = values;
      row.median[id] = median(values);
      if (id !== 'genesis' && genesis !== undefined) row.ratio[id] = median(values.map((v, i) => genesis[i]! / v));
    }
    return row;
  });
}

// ---- Formatting ------------------------------------------------------------------------

function significant(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 10 ** digits) return Math.round(x).toString();
  return Number(x.toPrecision(digits)).toString();
}

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'msg/s':
    case 'ask/s':
      return `${significant(value / 1e6)} M/s`;
    case 'µs':
      return `${significant(value)} µs`;
    case 'ms':
      return `${significant(value)} ms`;
    case 'B':
      return `${Math.round(value)} B`;
  }
}

function formatRatio(ratio: number): string {
  return `${significant(ratio, 2)}×`;
}

/** The results as a Markdown table, columns padded so it also reads well in a terminal. */
export function table(rows: Row[]): string {
  const peers = CONTESTANTS.filter((id) => id !== 'genesis');
  const header = ['Figure', 'Target', LABELS.genesis];
  for (const id of peers) header.push(LABELS[id], `G/${SHORT[id]}`);
  const body = rows.map((row) => {
    const { figure } = row;
    const cell = (id: ContestantId) => {
      const value = row.median[id];
      if (value !== undefined) return formatValue(value, figure.unit);
      return row.na[id] !== undefined ? 'n/a' : '—';
    };
    const label = `${row.experiment}: ${figure.label}${figure.better === 'lower' ? ' (lower is better)' : ''}`;
    const line = [label, figure.target ?? '', cell('genesis')];
    for (const id of peers) {
      const ratio = row.ratio[id];
      line.push(cell(id), ratio === undefined ? '' : formatRatio(ratio));
    }
    return line;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const render = (line: string[]) => `| ${line.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...body.map(render)].join('\n');
}

/** Every measured value, round by round, for judging the spread. */
export function sampleDump(rows: Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(`${row.experiment}: ${row.figure.label}`);
    for (const id of CONTESTANTS) {
      const values = row.samples[id];
      if (values === undefined) continue;
      lines.push(`  ${LABELS[id].padEnd(22)} ${values.map((v) => formatValue(v, row.figure.unit)).join(', ')}`);
    }
  }
  return lines.join('\n');
}
