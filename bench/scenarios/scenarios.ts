/**
 * The seeds' five test conditions as scenarios: an arrival schedule and a fault schedule, both
 * drawn from the seed (actors/rng.ts), so that both contestants meet the same events and faults.
 * Capacity of the exchange: 3 venues × one order at a time × 10–20 ms ≈ 200 orders/s.
 */
import { seededRandom } from '../../actors/rng.js';
import { COMPONENTS, type Component, type Fault, type Intent, VENUES } from './world.js';

export interface Scenario {
  name: string;
  /** The seeds' claimed figure for the original system (SEEDS.md). */
  seedsClaim: string;
  /** One line for the report. */
  summary: string;
  /** Arrivals end here (ms after the start); the drain follows. */
  durationMs: number;
  /** The intents and the faults of this seed. */
  build(seed: number): { intents: Intent[]; faults: Fault[]; notes: string[] };
}

const SYMBOLS: Record<string, number> = { BTC: 65_000, ETH: 3_400, SOL: 150 };

/** Poisson arrivals at `perSecond` over [fromMs, toMs). */
export function poisson(random: () => number, perSecond: number, fromMs: number, toMs: number): number[] {
  const times: number[] = [];
  let t = fromMs;
  for (;;) {
    t += (-Math.log(1 - random()) / perSecond) * 1000;
    if (t >= toMs) return times;
    times.push(t);
  }
}

/** Intents (ids e0, e1… in arrival order, seeded symbol, side, qty, price) at the given times. */
export function intentsAt(random: () => number, times: number[]): Intent[] {
  const symbols = Object.keys(SYMBOLS);
  return times
    .sort((a, b) => a - b)
    .map((at, i) => {
      const symbol = symbols[Math.floor(random() * symbols.length)]!;
      const price = Math.round(SYMBOLS[symbol]! * (0.98 + random() * 0.04) * 100) / 100;
      return { id: `e${i}`, symbol, side: random() < 0.5 ? 'buy' : 'sell', qty: 1 + Math.floor(random() * 5), price, at };
    });
}

/** A seeded shuffle (Fisher–Yates). */
function shuffled<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const STEADY = 100;

export const SCENARIOS: Scenario[] = [
  {
    name: 'high-load',
    seedsClaim: 'original 37.48 %',
    summary: '100 events/s for 20 s plus a burst of 5,000 events at once at t = 5 s; no faults',
    durationMs: 20_000,
    build(seed) {
      const random = seededRandom(seed);
      const times = poisson(random, STEADY, 0, 20_000);
      for (let i = 0; i < 5_000; i++) times.push(5_000);
      return { intents: intentsAt(random, times), faults: [], notes: ['burst: 5,000 intents submitted in one tick at t = 5 s'] };
    },
  },
  {
    name: 'mass-failure',
    seedsClaim: 'original 0 %',
    summary: '100 events/s for 28 s; 80 % of the components (7 of 9, seeded) crash or stall from 5 s to 20 s',
    durationMs: 28_000,
    build(seed) {
      const random = seededRandom(seed + 1);
      const intents = intentsAt(random, poisson(random, STEADY, 0, 28_000));
      const victims = shuffled(random, COMPONENTS).slice(0, Math.round(COMPONENTS.length * 0.8));
      const faults: Fault[] = victims.map((component) => ({ component, kind: random() < 0.5 ? 'crash' : 'stall', fromMs: 5_000, toMs: 20_000 }));
      return { intents, faults, notes: faults.map((f) => `${f.component}: ${f.kind === 'crash' ? 'crashes on every call' : 'hangs every call until 20 s'}`) };
    },
  },
  {
    name: 'extreme-latency',
    seedsClaim: 'original 60 %',
    summary: '100 events/s for 28 s; 2 of the 3 gateway adapters (seeded) add 0.5–3 s per call from 5 s to 20 s',
    durationMs: 28_000,
    build(seed) {
      const random = seededRandom(seed + 2);
      const intents = intentsAt(random, poisson(random, STEADY, 0, 28_000));
      const slow = shuffled(random, VENUES).slice(0, 2);
      const faults: Fault[] = slow.map((component) => ({ component, kind: 'latency', fromMs: 5_000, toMs: 20_000, latencyMs: [500, 3_000] }));
      return { intents, faults, notes: slow.map((v) => `${v}: +0.5–3 s per call (uniform, seeded per order)`) };
    },
  },
  {
    name: 'cascading',
    seedsClaim: 'original: total failure',
    summary: '100 events/s for 28 s; a chain of faults from 4 s to 19 s (gateway stall → next gateway crashes → risk crashes → …)',
    durationMs: 28_000,
    build(seed) {
      const random = seededRandom(seed + 3);
      const intents = intentsAt(random, poisson(random, STEADY, 0, 28_000));
      const [first, second] = shuffled(random, VENUES) as [Component, Component];
      const faults: Fault[] = [
        { component: first, kind: 'stall', fromMs: 4_000, toMs: 11_000 },
        { component: second, kind: 'crash', fromMs: 7_000, toMs: 13_000, p: 0.8 },
        { component: 'risk', kind: 'crash', fromMs: 9_000, toMs: 15_000, p: 0.3 },
        { component: 'portfolio', kind: 'latency', fromMs: 11_000, toMs: 17_000, latencyMs: [100, 800] },
        { component: 'router', kind: 'crash', fromMs: 13_000, toMs: 16_000, p: 0.2 },
        { component: 'audit', kind: 'stall', fromMs: 14_000, toMs: 19_000 },
      ];
      const notes = faults.map(
        (f) =>
          `${(f.fromMs / 1000).toFixed(0)}–${(f.toMs / 1000).toFixed(0)} s ${f.component}: ${f.kind}` +
          (f.kind === 'crash' ? ` (p = ${f.p} per call)` : f.kind === 'latency' ? ` +${f.latencyMs![0]}–${f.latencyMs![1]} ms` : ''),
      );
      return { intents, faults, notes };
    },
  },
  {
    name: 'constrained',
    seedsClaim: '–',
    summary: '300 events/s (1.5 × the exchange capacity of ≈ 200/s) for 20 s; no faults',
    durationMs: 20_000,
    build(seed) {
      const random = seededRandom(seed + 4);
      return { intents: intentsAt(random, poisson(random, 300, 0, 20_000)), faults: [], notes: ['the constraint is the exchange: arrivals at 1.5 × its capacity'] };
    },
  },
];

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
