/**
 * One run: one scenario, one contestant, one seed, in real time. The driver submits each intent
 * at its arrival time (a burst in one tick), waits for the claims, drains, reads the contestant's
 * final state, closes the world and hands everything to the judge.
 */
import type { Claim, ContestantFactory, ContestantReport } from './contestant.js';
import { genesisContestant } from './genesis.js';
import { type EventRecord, judge, type Verdicts, type WorldRecords } from './judge.js';
import { portContestant } from './port.js';
import type { Scenario } from './scenarios.js';
import { World } from './world.js';

export const CONTESTANTS: Record<string, ContestantFactory> = { port: portContestant, genesis: genesisContestant };

/** The caller's deadline per event: the original coordinator's request timeout. */
export const DEADLINE_MS = 5_000;
/** After the last arrival: claims still open after this are lost. */
const DRAIN_MS = DEADLINE_MS + 2_000;
/** Then this long for late bookings and notifications to land. */
const SETTLE_MS = 1_000;

export interface RunResult {
  scenario: string;
  contestant: string;
  seed: number;
  events: number;
  verdicts: Verdicts;
  report: Omit<ContestantReport, 'booked'> & { booked: number };
  world: Record<string, number>;
  faultsMet: Record<string, number>;
  wallMs: number;
  /** Largest event-loop delay seen by the driver's pump, ms. */
  maxLagMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Optional hooks of a run (bench/scenarios/goodput.ts reads the per-event records). */
export interface RunHooks {
  /** Called at time 0 of the run, just before the first arrival is submitted. */
  onBegin?: () => void;
  /** Called once, before the judge, with every event's record, the world's records and the final portfolio. */
  inspect?: (records: readonly EventRecord[], world: WorldRecords, booked: ReadonlySet<string>) => void;
}

export async function runOne(scenario: Scenario, contestantName: string, seed: number, hooks: RunHooks = {}): Promise<RunResult> {
  const factory = CONTESTANTS[contestantName];
  if (factory === undefined) throw new Error(`unknown contestant ${contestantName}`);
  const started = performance.now();
  const { intents, faults } = scenario.build(seed);
  const world = new World({ seed, faults });
  const contestant = factory(world, seed);
  await contestant.start();

  const records: EventRecord[] = intents.map((intent) => ({ intent, submitAt: -1, claimAt: -1, claim: null }));
  let open = 0;
  let maxLagMs = 0;
  const submit = (record: EventRecord) => {
    record.submitAt = world.now();
    open++;
    const settle = (claim: Claim) => {
      record.claimAt = world.now();
      record.claim = claim;
      open--;
    };
    contestant.submit(record.intent, DEADLINE_MS).then(settle, (error: unknown) => settle({ status: 'failed', reason: `submit threw: ${String(error)}` }));
  };

  world.begin();
  hooks.onBegin?.();
  await new Promise<void>((resolve) => {
    let next = 0;
    const pump = () => {
      const now = world.now();
      if (next < records.length) maxLagMs = Math.max(maxLagMs, now - records[next]!.intent.at);
      while (next < records.length && records[next]!.intent.at <= now) submit(records[next++]!);
      if (next >= records.length) resolve();
      else setTimeout(pump, Math.max(0, records[next]!.intent.at - world.now()));
    };
    pump();
  });
  const drainUntil = world.now() + DRAIN_MS;
  while (open > 0 && world.now() < drainUntil) await sleep(50);
  await sleep(SETTLE_MS);

  const report = await contestant.finish();
  const records_ = { executions: world.exchange.executions, audit: world.notified.audit, monitor: world.notified.monitor };
  const worldStats = world.exchange.stats();
  world.close();
  hooks.inspect?.(records, records_, new Set(report.booked));
  const verdicts = judge(records, records_, report, world.faultEnd());
  return {
    scenario: scenario.name,
    contestant: contestantName,
    seed,
    events: records.length,
    verdicts,
    report: { ...report, booked: report.booked.length },
    world: worldStats,
    faultsMet: Object.fromEntries(world.met),
    wallMs: performance.now() - started,
    maxLagMs,
  };
}
