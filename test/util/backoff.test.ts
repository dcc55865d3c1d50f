/**
 * The one backoff rule against the three formulas it replaces (supervisor restarts, breaker open
 * periods, retry waits): the same delays to the bit, one random() per delay.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay, nominalBackoff } from '../../src/util/backoff.js';

const RANDOMS = [0, 0.000001, 0.25, 0.5, 0.75, 0.999999];
const STEPS = [0, 1, 2, 3, 5, 10, 40];

describe('backoffDelay', () => {
  it('grows by factor per step from baseMs, capped at maxMs', () => {
    const policy = { baseMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
    expect(STEPS.map((s) => nominalBackoff(s, policy))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(STEPS.map((s) => backoffDelay(s, policy, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(nominalBackoff(3, { baseMs: 10, maxMs: 1e9, factor: 1 })).toBe(10);
    expect(nominalBackoff(2, { baseMs: 10, maxMs: 1e9, factor: 1.5 })).toBe(22.5);
  });

  it("'down': takes up to jitter of the delay off, never more, never above the nominal delay", () => {
    const policy = { baseMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 };
    expect(backoffDelay(0, policy, () => 0)).toBe(100);
    expect(backoffDelay(0, policy, () => 0.5)).toBe(90);
    expect(backoffDelay(1, policy, () => 0.999999)).toBeCloseTo(160, 3);
    for (const r of RANDOMS) {
      const d = backoffDelay(2, policy, () => r);
      expect(d).toBeGreaterThan(400 * 0.8 - 1e-9);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it("'both': scales the delay by a factor in [1 − jitter, 1 + jitter], capped at maxMs", () => {
    const policy = { baseMs: 100, maxMs: 1000, factor: 2, jitter: 0.5, jitterMode: 'both' as const };
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 0.5)).toBe(100);
    expect(backoffDelay(0, policy, () => 0.75)).toBe(125);
    expect(backoffDelay(3, policy, () => 0.99)).toBe(1000); // 800 × 1.49, capped
    expect(backoffDelay(10, policy, () => 0)).toBe(500);
    expect(backoffDelay(0, { ...policy, jitter: 1 }, () => 0)).toBe(0);
  });

  it('draws exactly one random number per delay, also without jitter', () => {
    let draws = 0;
    const random = () => {
      draws++;
      return 0.3;
    };
    backoffDelay(1, { baseMs: 1, maxMs: 10, factor: 2, jitter: 0 }, random);
    backoffDelay(1, { baseMs: 1, maxMs: 10, factor: 2, jitter: 0.1, jitterMode: 'both' }, random);
    expect(draws).toBe(2);
  });
});

describe('backoffDelay reproduces the formulas it replaced, to the bit', () => {
  it('supervisor restarts: min(maxMs, max(0, min(maxMs, minMs × factor^n) × (1 + jitter × (2r − 1))))', () => {
    for (const [minMs, maxMs, factor, jitter] of [
      [10, 1000, 2, 0.2],
      [7, 30_000, 1.7, 1],
      [250, 250, 3, 0.5],
    ] as const) {
      for (const step of STEPS) {
        for (const r of RANDOMS) {
          const base = Math.min(maxMs, minMs * factor ** step);
          const legacy = Math.min(maxMs, Math.max(0, base * (1 + jitter * (2 * r - 1))));
          expect(backoffDelay(step, { baseMs: minMs, maxMs, factor, jitter, jitterMode: 'both' }, () => r)).toBe(legacy);
        }
      }
    }
  });

  it('breaker open period: max(1, round(min(max, reset × backoff^reopens) × (1 − resetJitter × r)))', () => {
    for (const [reset, max, growth, jitter] of [
      [5000, 60_000, 2, 0.2],
      [3, 17, 1.3, 0.9],
    ] as const) {
      for (const reopens of STEPS) {
        for (const r of RANDOMS) {
          const legacy = Math.max(1, Math.round(Math.min(max, reset * growth ** reopens) * (1 - jitter * r)));
          const shared = Math.max(1, Math.round(backoffDelay(reopens, { baseMs: reset, maxMs: max, factor: growth, jitter }, () => r)));
          expect(shared).toBe(legacy);
        }
      }
    }
  });

  it('retry n (1-based): min(maxMs, baseMs × 2^(n−1)) × (1 − jitter × r)', () => {
    for (const n of [1, 2, 3, 4, 8, 30]) {
      for (const r of RANDOMS) {
        const legacy = Math.min(10_000, 100 * 2 ** (n - 1)) * (1 - 0.2 * r);
        expect(backoffDelay(n - 1, { baseMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 }, () => r)).toBe(legacy);
      }
    }
  });
});
