/**
 * Resilience suite: the per-call cost of wrapping `async () => 1` in a timeout and a circuit
 * breaker — Genesis `resilient(fn, { timeoutMs, breaker })` against opossum 9 (`timeout` option)
 * and cockatiel 3 (`wrap(circuitBreaker(...), timeout(..., Aggressive))`), and a raw `await fn()`.
 *
 * The harness has fixed columns (Genesis, nact, XState ×2, Node floor) and neither nact nor
 * XState has a resilience layer, so each peer gets its own experiment in which it runs in the
 * **Node floor column**: the titles say which peer that is, and G/floor is Genesis ÷ that peer.
 * The first experiment's floor is the true floor, a raw await. Within each experiment the two
 * contestants alternate round after round (medians, as everywhere in the harness).
 *
 * Every contestant awaits its calls one after the other (the cost of one call, not of
 * concurrency), with the same settings: a 1000 ms timeout that must also fire for a call that
 * hangs (checked once per contestant before timing, with a 20 ms timeout on a never-settling
 * function), and a breaker that stays closed (no call fails). Sizes differ so that a run takes
 * ~0.1–0.3 s on each contestant; the figure is calls per second. Each run builds a new wrapper
 * outside the timed part and disposes of it after.
 */
import { circuitBreaker, ConsecutiveBreaker, handleAll, timeout as cockatielTimeout, TimeoutStrategy, wrap } from 'cockatiel';
import CircuitBreaker from 'opossum';
import { resilient } from '../src/resilience/resilient.ts';
import { check, type Experiment, type Options, size, type Suite } from './harness.ts';

const TIMEOUT_MS = 1000;
const HANG_TIMEOUT_MS = 20;
const perSecond = (count: number, ms: number) => (count / ms) * 1000;
const NOT_RESILIENCE = 'no timeout or circuit breaker to compare';

/** The wrapped function: as cheap as an async function gets. */
const one = async (): Promise<number> => 1;
const hang = (): Promise<number> => new Promise<number>(() => {});

// ---- The hang check: the same settings on a function that never settles -------------------

interface Wrapper {
  call: () => Promise<number>;
  dispose: () => void;
}

function genesis(fn: () => Promise<number>, timeoutMs: number): Wrapper {
  const call = resilient(fn, { timeoutMs, breaker: { failureThreshold: 5, resetTimeoutMs: 5000 } });
  return { call, dispose: call.stop };
}

function opossum(fn: () => Promise<number>, timeoutMs: number): Wrapper {
  const breaker = new CircuitBreaker(fn, { timeout: timeoutMs, resetTimeout: 5000 });
  return { call: () => breaker.fire(), dispose: () => breaker.shutdown() };
}

function cockatiel(fn: () => Promise<number>, timeoutMs: number): Wrapper {
  const policy = wrap(circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(5) }), cockatielTimeout(timeoutMs, TimeoutStrategy.Aggressive));
  return { call: () => policy.execute(fn), dispose: () => {} };
}

type Make = (fn: () => Promise<number>, timeoutMs: number) => Wrapper;

const verified = new Set<Make>();

/** Once per contestant: a call that never settles must still end, in about HANG_TIMEOUT_MS. */
async function verifyHangTimesOut(make: Make, name: string): Promise<void> {
  if (verified.has(make)) return;
  const wrapper = make(hang, HANG_TIMEOUT_MS);
  const t0 = performance.now();
  let failed = false;
  try {
    await wrapper.call();
  } catch {
    failed = true;
  }
  const ms = performance.now() - t0;
  wrapper.dispose();
  check(failed && ms >= HANG_TIMEOUT_MS - 1 && ms < HANG_TIMEOUT_MS + 200, `${name}: a hanging call times out after ~${HANG_TIMEOUT_MS} ms (took ${ms.toFixed(1)} ms)`);
  verified.add(make);
}

/** `count` calls awaited one after the other, checking every call answered 1. The loops are
 *  written out per contestant: one shared loop calling through a variable would make that call
 *  site megamorphic and slow the fastest contestants most (see core.ts). */
function result(name: string, count: number, sum: number, t0: number) {
  const ms = performance.now() - t0;
  check(sum === count, `${name}: every call answered 1`);
  return { rate: perSecond(count, ms) };
}

async function runGenesis(count: number) {
  await verifyHangTimesOut(genesis, 'Genesis resilient');
  const call = resilient(one, { timeoutMs: TIMEOUT_MS, breaker: { failureThreshold: 5, resetTimeoutMs: 5000 } });
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sum += await call();
  const measured = result('Genesis resilient', count, sum, t0);
  call.stop();
  return measured;
}

async function runOpossum(count: number) {
  await verifyHangTimesOut(opossum, 'opossum');
  const breaker = new CircuitBreaker(one, { timeout: TIMEOUT_MS, resetTimeout: 5000 });
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sum += await breaker.fire();
  const measured = result('opossum', count, sum, t0);
  breaker.shutdown();
  return measured;
}

async function runCockatiel(count: number) {
  await verifyHangTimesOut(cockatiel, 'cockatiel');
  const policy = wrap(circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(5) }), cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive));
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sum += await policy.execute(one);
  return result('cockatiel', count, sum, t0);
}

async function runRaw(count: number) {
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sum += await one();
  return result('raw', count, sum, t0);
}

// ---- Experiments -----------------------------------------------------------------------

function experiment(o: Options, peer: 'raw' | 'opossum' | 'cockatiel'): Experiment {
  const n = {
    genesis: size(1_000_000, o),
    raw: size(5_000_000, o),
    opossum: size(200_000, o),
    cockatiel: size(20_000, o),
  };
  const title = {
    raw: 'resilience: resilient(timeout+breaker) vs raw await (floor)',
    opossum: 'resilience: resilient(timeout+breaker) vs opossum 9 (timeout) [peer in floor column]',
    cockatiel: 'resilience: resilient(timeout+breaker) vs cockatiel 3 (breaker+timeout) [peer in floor column]',
  }[peer];
  const floorNote = {
    raw: `${n.raw.toLocaleString('en-US')} × \`await fn()\`, no wrapper`,
    opossum: `${n.opossum.toLocaleString('en-US')} × \`breaker.fire()\` of \`new CircuitBreaker(fn, { timeout: ${TIMEOUT_MS}, resetTimeout: 5000 })\` (opossum's breaker opens on an error percentage over a rolling window; its timeout is a timer per call)`,
    cockatiel: `${n.cockatiel.toLocaleString('en-US')} × \`policy.execute(fn)\` of \`wrap(circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(5) }), timeout(${TIMEOUT_MS}, TimeoutStrategy.Aggressive))\` (a timer and an AbortController per call)`,
  }[peer];
  return {
    title,
    figures: [{ metric: 'rate', label: 'calls/s', unit: 'ask/s', better: 'higher', target: '≥ 5 M/s' }],
    notes: {
      genesis: `${n.genesis.toLocaleString('en-US')} × \`await call()\` of \`resilient(fn, { timeoutMs: ${TIMEOUT_MS}, breaker: { failureThreshold: 5, resetTimeoutMs: 5000 } })\`: deadlines swept by one shared timer, AbortController only if fn reads ctx.signal`,
      nact: NOT_RESILIENCE,
      xstateTransition: NOT_RESILIENCE,
      xstateMachine: NOT_RESILIENCE,
      floor: floorNote,
    },
    contestants: {
      genesis: () => runGenesis(n.genesis),
      nact: { na: NOT_RESILIENCE },
      xstateTransition: { na: NOT_RESILIENCE },
      xstateMachine: { na: NOT_RESILIENCE },
      floor: { raw: () => runRaw(n.raw), opossum: () => runOpossum(n.opossum), cockatiel: () => runCockatiel(n.cockatiel) }[peer],
    },
  };
}

export const resilience: Suite = {
  name: 'resilience',
  experiments: (o) => [experiment(o, 'raw'), experiment(o, 'opossum'), experiment(o, 'cockatiel')],
};
