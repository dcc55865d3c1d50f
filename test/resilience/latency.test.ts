import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/errors.js';
import { LatencyHistogram } from '../../src/resilience/latency.js';
import { seededRandom } from '../../actors/rng.js';

const seeded = seededRandom;

function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  it('is empty at first: NaN percentiles', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    expect(h.p50).toBeNaN();
    expect(h.p95).toBeNaN();
    expect(h.percentile(0.5)).toBeNaN();
  });

  it('constant latencies come out exact', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 100; i++) h.record(12.5);
    expect(h.snapshot()).toEqual({ count: 100, min: 12.5, max: 12.5, p50: 12.5, p95: 12.5, p99: 12.5 });
  });

  it('percentiles are within one bucket (~9%) of the exact ones', () => {
    const random = seeded(7);
    const h = new LatencyHistogram({ window: 1000, refreshEvery: 1 });
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) {
      const ms = 0.05 + 200 * random() ** 3; // skewed: many fast, a slow tail
      samples.push(ms);
      h.record(ms);
    }
    samples.sort((a, b) => a - b);
    for (const [q, value] of [
      [0.5, h.p50],
      [0.95, h.p95],
      [0.99, h.p99],
      [0.25, h.percentile(0.25)],
    ] as const) {
      const truth = exact(samples, q);
      expect(Math.abs(value - truth) / truth, `q=${q}: ${value} vs ${truth}`).toBeLessThan(0.09);
    }
  });

  it('slides: an old regime is gone after `window` samples, a new one shows at once in p99', () => {
    const h = new LatencyHistogram({ window: 100, refreshEvery: 1 });
    for (let i = 0; i < 100; i++) h.record(10);
    for (let i = 0; i < 5; i++) h.record(100);
    expect(h.p99).toBeGreaterThan(90);
    for (let i = 0; i < 100; i++) h.record(1);
    expect(h.count).toBeLessThanOrEqual(100);
    expect(h.max).toBe(1);
    expect(h.p99).toBe(1);
  });

  it('holds between window/2 and window samples; memory does not grow with samples', () => {
    const h = new LatencyHistogram({ window: 64 });
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      h.record(i % 97);
      most = Math.max(most, h.count);
    }
    expect(most).toBe(64);
    expect(h.count).toBeGreaterThanOrEqual(32);
    expect(h.recorded).toBe(100_000);
  });

  it('caches: a large window refreshes once refreshEvery samples arrived', () => {
    const h = new LatencyHistogram({ window: 1000, refreshEvery: 50 });
    for (let i = 0; i < 900; i++) h.record(10);
    expect(h.p95).toBe(10);
    for (let i = 0; i < 49; i++) h.record(500);
    expect(h.p95).toBe(10); // cached
    h.record(500);
    expect(h.p95).toBeGreaterThan(400);
  });

  it('small windows refresh on every sample', () => {
    const h = new LatencyHistogram();
    h.record(5);
    expect(h.p50).toBe(5);
    h.record(7);
    expect(h.p99).toBe(7);
  });

  it('handles zero, sub-microsecond and huge values', () => {
    const h = new LatencyHistogram({ refreshEvery: 1 });
    h.record(0);
    h.record(0.0001);
    h.record(1e12);
    expect(h.min).toBe(0);
    expect(h.max).toBe(1e12);
    expect(h.p50).toBeGreaterThanOrEqual(0);
    expect(h.p50).toBeLessThan(0.002);
  });

  it('reset forgets everything', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 10; i++) h.record(3);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.p95).toBeNaN();
    h.record(4);
    expect(h.p95).toBe(4);
  });

  it('validates its options', () => {
    expect(() => new LatencyHistogram({ window: 0 })).toThrow(ConfigError);
    expect(() => new LatencyHistogram({ window: 1 })).toThrow(/latency\.window/);
    expect(() => new LatencyHistogram({ refreshEvery: -1 })).toThrow(/latency\.refreshEvery/);
    expect(() => new LatencyHistogram({ size: 3 } as never)).toThrow(/latency\.size/);
    expect(() => new LatencyHistogram().percentile(1.5)).toThrow(ConfigError);
  });
});
