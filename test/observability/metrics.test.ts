/**
 * system.metrics() (observability/metrics.ts) and its Prometheus endpoint
 * (observability/prometheus.ts): counters, breakers by state, latency percentiles, mode,
 * snapshot ages, dead letters by reason, refusals; a real HTTP scrape on port 0.
 */
import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ConfigError, defineActor, SimulatedClock } from '../../src/index.js';
import { LatencyHistogram } from '../../src/resilience/latency.js';
import { nextTurn, startSystem, until } from '../helpers.js';

type Msg = { type: 'add'; n: number } | { type: 'get' } | { type: 'crash' } | { type: 'wait'; gate: Promise<void> };

const Counter = defineActor<number, Msg>({
  init: () => 0,
  async receive(n, msg, ctx) {
    if (msg.type === 'add') return n + msg.n;
    if (msg.type === 'crash') throw new Error('boom');
    if (msg.type === 'wait') await msg.gate;
    ctx.reply(n);
    return n;
  },
});

/** The value of one sample line of a Prometheus text, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('system.metrics()', () => {
  it('counts messages, asks, restarts by path, refusals and dead letters by reason', async () => {
    const system = await startSystem();
    const c = system.spawn(Counter, { name: 'c' });
    c.tell({ type: 'add', n: 1 });
    for (let i = 0; i < 3; i++) await c.ask({ type: 'get' });
    await c.ask({ type: 'crash' }).catch(() => {});
    await until(() => system.metrics().restarts.total === 1);
    // a full mailbox refuses: one capacity, the handler held by a gate
    const small = system.spawn(Counter, { name: 'small', mailbox: { capacity: 1, overflow: 'reject' } });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const held = small.ask({ type: 'wait', gate });
    await nextTurn();
    small.tell({ type: 'add', n: 1 });
    expect(small.tell({ type: 'add', n: 2 })).toBe(false);
    open();
    await held;
    await until(() => system.getState('/small') === 1); // the queued add is handled
    await system.stop(small);
    small.tell({ type: 'add', n: 3 });

    const m = system.metrics();
    expect(m.asks).toBe(5);
    expect(m.messagesHandled).toBeGreaterThanOrEqual(5);
    expect(m.restarts).toEqual({ total: 1, byPath: { '/c': 1 } });
    expect(m.refusals).toBe(1);
    expect(m.deadLettersByReason).toEqual({ crashed: 1, rejected: 1, stopped: 1 });
    expect(m.deadLetters).toBe(3);
    expect(m.mode).toBe('normal');
    system.setMode('safe', 'test');
    expect(system.metrics().mode).toBe('safe');
  });

  it('counts breakers by state and merges their latency windows into percentiles', async () => {
    const system = await startSystem();
    const fragile = system.spawn(Counter, { name: 'fragile', breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 } });
    const steady = system.spawn(Counter, { name: 'steady' });
    system.spawn(Counter, { name: 'never-asked' });
    expect(system.metrics().askLatencyMs).toEqual({ samples: 0, p50: null, p95: null, p99: null });
    for (let i = 0; i < 64; i++) await steady.ask({ type: 'get' });
    await fragile.ask({ type: 'crash' }).catch(() => {});
    const m = system.metrics();
    expect(m.breakers).toEqual({ closed: 1, open: 1, halfOpen: 0, hedging: 0 });
    expect(m.askLatencyMs.samples).toBeGreaterThan(0); // one ask in four is timed
    expect(m.askLatencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(m.askLatencyMs.p99!).toBeGreaterThanOrEqual(m.askLatencyMs.p50!);
  });

  it('merges latency windows as one: percentiles of the union, not an average of percentiles', () => {
    const fast = new LatencyHistogram();
    const slow = new LatencyHistogram();
    for (let i = 0; i < 90; i++) fast.record(1);
    for (let i = 0; i < 10; i++) slow.record(100);
    const merged = LatencyHistogram.merged([fast, slow, new LatencyHistogram()]);
    expect(merged.count).toBe(100);
    expect(merged.p50).toBe(1);
    expect(merged.p99).toBe(100);
    expect(merged.min).toBe(1);
    expect(merged.max).toBe(100);
  });

  it('reports per snapshotted actor the ms since its last snapshot, on the system clock', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    system.spawn(Counter, { name: 'kept', snapshot: { everyMessages: 1000 } });
    system.spawn(Counter, { name: 'plain' });
    expect(system.metrics().snapshotAgesMs).toEqual({ '/kept': null });
    await system.checkpoint();
    clock.advance(1500);
    expect(system.metrics().snapshotAgesMs).toEqual({ '/kept': 1500 });
  });
});

describe('system.serveMetrics()', () => {
  it('serves genesis_ metrics in Prometheus text on 127.0.0.1', async () => {
    const system = await startSystem({ name: 'scraped' });
    const c = system.spawn(Counter, { name: 'c', breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 } });
    await c.ask({ type: 'get' });
    await c.ask({ type: 'crash' }).catch(() => {});
    await until(() => system.metrics().restarts.total === 1);
    const m = await system.serveMetrics({ port: 0 });
    expect(m.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(m.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const labels = '{system="scraped"}';
    expect(sample(text, `genesis_actors${labels}`)).toBe(1);
    expect(sample(text, `genesis_asks_total${labels}`)).toBe(2);
    expect(sample(text, `genesis_restarts_total${labels}`)).toBe(1);
    expect(sample(text, 'genesis_actor_restarts{path="/c",system="scraped"}')).toBe(1);
    expect(sample(text, 'genesis_breakers{state="open",system="scraped"}')).toBe(1);
    expect(sample(text, 'genesis_dead_letters_total{reason="crashed",system="scraped"}')).toBe(1);
    expect(sample(text, 'genesis_mode{mode="normal",system="scraped"}')).toBe(1);
    expect(sample(text, 'genesis_mode{mode="safe",system="scraped"}')).toBe(0);
    expect(text).toContain('# TYPE genesis_messages_handled_total counter');
    for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) expect(line).toMatch(/^genesis_/);

    // computed at scrape time: a second scrape sees new work
    await c.ask({ type: 'get' }).catch(() => {}); // refused by the open breaker: still an ask
    const again = await (await fetch(m.url)).text();
    expect(sample(again, `genesis_asks_total${labels}`)).toBe(3);

    expect((await fetch(new URL('/other', m.url))).status).toBe(404);
    expect((await fetch(m.url, { method: 'POST' })).status).toBe(405);
    await m.close();
    await expect(fetch(m.url)).rejects.toThrow();
  });

  it('gives each system its own registry, never prom-client’s global one, and closes at shutdown', async () => {
    const a = await startSystem({ name: 'a' });
    const b = await startSystem({ name: 'b' });
    a.spawn(Counter, { name: 'x' });
    const ma = await a.serveMetrics({ port: 0 });
    const mb = await b.serveMetrics({ port: 0, host: '127.0.0.1' });
    expect(ma.url).not.toBe(mb.url);
    expect(sample(await (await fetch(ma.url)).text(), 'genesis_actors{system="a"}')).toBe(1);
    expect(sample(await (await fetch(mb.url)).text(), 'genesis_actors{system="b"}')).toBe(0);
    expect((await register.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('genesis_'))).toEqual([]);
    await b.shutdown();
    await expect(fetch(mb.url)).rejects.toThrow();
    await ma.close();
  });

  it('refuses unknown options and bad ports with a ConfigError', async () => {
    const system = await startSystem();
    await expect(system.serveMetrics({ port: 0, path: '/m' } as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(system.serveMetrics({ port: 70_000 })).rejects.toMatchObject({ option: 'serveMetrics(options).port' });
    await expect(system.serveMetrics({ port: 1.5 })).rejects.toBeInstanceOf(ConfigError);
    await expect(system.serveMetrics({ port: 0, host: '' })).rejects.toBeInstanceOf(ConfigError);
  });
});
