/**
 * The judge: decides each event's outcome from the contestant's claim, the world's records
 * (executions, notifications) and the contestant's final portfolio — never from the claim alone.
 *
 * One outcome per event:
 * - success   claimed filled, executed in the world, in the final portfolio, audited and monitored
 * - degraded  a marked refusal or fallback (`not-placed` with a reason), and not executed
 * - failed    a typed error or reason (not a fallback), and not executed; or a fill claimed that
 *             the world never executed
 * - orphan    executed in the world although the caller was told it failed or was not placed
 * - lost      no claim by the end of the drain; or claimed filled but missing from the final
 *             portfolio; or booked but its audit or monitor notification never arrived
 * The `orphan work` column counts every executed order whose caller was not told `filled`
 * (orphans, plus lost events whose order executed).
 */
import type { Claim, ContestantReport } from './contestant.js';
import type { Fill, Intent } from './world.js';

export type Outcome = 'success' | 'degraded' | 'failed' | 'orphan' | 'lost';

/** One event as the driver saw it. */
export interface EventRecord {
  intent: Intent;
  /** When it was submitted / answered, ms after the start (claimAt -1: no claim). */
  submitAt: number;
  claimAt: number;
  claim: Claim | null;
}

export interface Verdicts {
  total: number;
  counts: Record<Outcome, number>;
  orphanWork: number;
  /** Why events were lost / failed / degraded, with counts. */
  lostBy: Record<string, number>;
  failedBy: Record<string, number>;
  degradedBy: Record<string, number>;
  p50: number;
  p99: number;
  /** ms from the last fault's end to the first 1-s window at ≥ 99 % success; null: no fault; -1: never. */
  recoveryMs: number | null;
  strictPct: number;
  successOrDegradedPct: number;
  /** Per second of arrival: success % of the events that arrived in it. */
  timeline: number[];
}

export interface WorldRecords {
  executions: ReadonlyMap<string, Fill>;
  audit: ReadonlyMap<string, number>;
  monitor: ReadonlyMap<string, number>;
}

function add(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** A reason without its per-event details, for grouping. */
function kind(reason: string): string {
  return reason.length > 80 ? `${reason.slice(0, 77)}…` : reason;
}

export function outcomeOf(record: EventRecord, world: WorldRecords, booked: ReadonlySet<string>): { outcome: Outcome; why: string } {
  const id = record.intent.id;
  const executed = world.executions.has(id);
  const claim = record.claim;
  if (claim === null) return { outcome: 'lost', why: executed ? 'no claim (executed)' : 'no claim' };
  if (claim.status === 'filled') {
    if (!executed) return { outcome: 'failed', why: 'claimed filled, never executed' };
    if (!booked.has(id)) return { outcome: 'lost', why: 'claimed filled, missing from final portfolio' };
    const audited = world.audit.has(id);
    const monitored = world.monitor.has(id);
    if (!audited || !monitored)
      return { outcome: 'lost', why: `notification missing (${[audited ? '' : 'audit', monitored ? '' : 'monitor'].filter(Boolean).join('+')})` };
    return { outcome: 'success', why: '' };
  }
  if (executed) return { outcome: 'orphan', why: `${claim.status}: ${kind(claim.reason)}` };
  return claim.status === 'not-placed' ? { outcome: 'degraded', why: kind(claim.reason) } : { outcome: 'failed', why: kind(claim.reason) };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** First 1-s window (sliding by 100 ms, from the fault's end) whose events succeeded at ≥ 99 %. */
function recovery(records: EventRecord[], outcomes: Outcome[], faultEnd: number | null, lastArrival: number): number | null {
  if (faultEnd === null) return null;
  for (let start = faultEnd; start + 1000 <= lastArrival + 1; start += 100) {
    let n = 0;
    let ok = 0;
    for (let i = 0; i < records.length; i++) {
      const at = records[i]!.intent.at;
      if (at < start || at >= start + 1000) continue;
      n++;
      if (outcomes[i] === 'success') ok++;
    }
    if (n > 0 && ok / n >= 0.99) return start - faultEnd;
  }
  return -1;
}

export function judge(records: EventRecord[], world: WorldRecords, report: ContestantReport, faultEnd: number | null): Verdicts {
  const booked = new Set(report.booked);
  const counts: Record<Outcome, number> = { success: 0, degraded: 0, failed: 0, orphan: 0, lost: 0 };
  const lostBy: Record<string, number> = {};
  const failedBy: Record<string, number> = {};
  const degradedBy: Record<string, number> = {};
  const outcomes: Outcome[] = [];
  let orphanWork = 0;
  const latencies: number[] = [];
  for (const record of records) {
    const { outcome, why } = outcomeOf(record, world, booked);
    outcomes.push(outcome);
    counts[outcome]++;
    if (outcome === 'lost') add(lostBy, why);
    if (outcome === 'failed') add(failedBy, why);
    if (outcome === 'degraded') add(degradedBy, why);
    if (outcome === 'orphan') add(failedBy, `orphan ← ${why}`);
    if (world.executions.has(record.intent.id) && record.claim?.status !== 'filled') orphanWork++;
    if (record.claimAt >= 0) latencies.push(record.claimAt - record.submitAt);
  }
  latencies.sort((a, b) => a - b);
  const total = records.length;
  const perSecond: [number, number][] = [];
  records.forEach((record, i) => {
    const bucket = (perSecond[Math.floor(record.intent.at / 1000)] ??= [0, 0]);
    bucket[0]++;
    if (outcomes[i] === 'success') bucket[1]++;
  });
  const timeline = Array.from(perSecond, (b) => (b === undefined ? Number.NaN : Math.round((100 * b[1]) / b[0])));
  const lastArrival = records.reduce((m, r) => Math.max(m, r.intent.at), 0);
  return {
    total,
    counts,
    orphanWork,
    lostBy,
    failedBy,
    degradedBy,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    recoveryMs: recovery(records, outcomes, faultEnd, lastArrival),
    strictPct: (100 * counts.success) / Math.max(1, total),
    successOrDegradedPct: (100 * (counts.success + counts.degraded)) / Math.max(1, total),
    timeline,
  };
}
