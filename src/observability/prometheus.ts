/**
 * `system.serveMetrics()`: `system.metrics()` in the Prometheus text format, through prom-client,
 * on `GET /metrics` of a small HTTP server (127.0.0.1 by default). Each server has its own
 * Registry (never prom-client's global one); its metrics are `genesis_`-prefixed and filled by
 * collect callbacks from one `system.metrics()` read per scrape: nothing runs while nobody scrapes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Mode } from '../modes/modes-machine.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys } from '../util/options.js';
import type { SystemMetrics } from './metrics.js';

/**
 * Where `system.serveMetrics()` listens.
 *
 * @example
 * ```ts
 * const metrics = await system.serveMetrics({ port: 9464 });   // host 127.0.0.1
 * ```
 */
export interface ServeMetricsOptions {
  /** TCP port, 0 … 65535 (default 9464); 0 picks a free one (the `url` tells which). */
  port?: number;
  /** Interface to listen on (default '127.0.0.1': only this machine can scrape). */
  host?: string;
}

/**
 * A running metrics endpoint: `url` is its `/metrics` address; `close()` stops it (also done by
 * `system.shutdown()`).
 *
 * @example
 * ```ts
 * const { url, close } = await system.serveMetrics({ port: 0 });
 * console.log(await (await fetch(url)).text());   // # HELP genesis_actors …
 * await close();
 * ```
 */
export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

const MODES: readonly Mode[] = ['normal', 'preSafe', 'latency', 'safe', 'recovery', 'emergency'];

/** Checks the options; a ConfigError names a bad one. */
export function serveMetricsOptions(options: ServeMetricsOptions | undefined): { port: number; host: string } {
  if (options === undefined) return { port: 9464, host: '127.0.0.1' };
  checkObject('serveMetrics(options)', options);
  knownKeys('serveMetrics(options)', options, ['port', 'host']);
  const port = options.port ?? 9464;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('serveMetrics(options).port', `must be an integer in 0 … 65535 (got ${String(options.port)})`);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw new ConfigError('serveMetrics(options).host', `must be a non-empty string (got ${String(options.host)})`);
  return { port, host };
}

/** A Registry of genesis_ metrics whose values come from `current()` at collect time. */
export function metricsRegistry(systemName: string, current: () => SystemMetrics): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ system: systemName });
  const registers = [registry];
  /** A counter that mirrors a total kept elsewhere (set, at scrape time, to that total). */
  const total = (name: string, help: string, value: (m: SystemMetrics) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value(current()));
      },
    });
  const gauge = (name: string, help: string, value: (m: SystemMetrics) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(current()));
      },
    });
  /** A gauge with one label, its series replaced at every scrape (paths come and go). */
  const labelled = <L extends string>(name: string, help: string, label: L, values: (m: SystemMetrics) => Record<string, number | null>) =>
    new Gauge<L>({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [key, v] of Object.entries(values(current()))) if (v !== null) this.set({ [label]: key } as Record<L, string>, v);
      },
    });

  gauge('genesis_actors', 'Actors not yet stopped for good.', (m) => m.actors);
  total('genesis_messages_handled_total', 'Messages handled since start.', (m) => m.messagesHandled);
  total('genesis_asks_total', 'Asks made since start (answered, refused or failed).', (m) => m.asks);
  gauge('genesis_asks_pending', 'Asks waiting for a reply.', (m) => m.asksPending);
  gauge('genesis_run_queue', 'Actors with messages waiting for their turn.', (m) => m.runQueue);
  total('genesis_refusals_total', 'Work refused as overload: admission control and full mailboxes.', (m) => m.refusals);
  total('genesis_events_published_total', 'Events published since start.', (m) => m.eventsPublished);
  total('genesis_events_unrouted_total', 'Events published that found no subscriber.', (m) => m.eventsUnrouted);
  total('genesis_restarts_total', 'Restarts since start.', (m) => m.restarts.total);
  new Counter({
    name: 'genesis_dead_letters_total',
    help: 'Dead letters since start, by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(current().deadLettersByReason)) this.inc({ reason }, n ?? 0);
    },
  });
  new Counter({
    name: 'genesis_snapshots_total',
    help: 'Snapshot outcomes since start: written, failed, corrupt, restored, restoreFailures, replicasSent, replicasReceived, replicasRefused.',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(current().snapshots)) this.inc({ outcome }, n);
    },
  });
  labelled('genesis_actor_restarts', 'Restarts of the live actors restarted most, by path.', 'path', (m) => m.restarts.byPath);
  labelled('genesis_breakers', 'Live actors by the state of their breaker.', 'state', (m) => ({ ...m.breakers }));
  labelled('genesis_ask_latency_seconds', 'Ask latency over the system (sampled asks, from the breakers).', 'quantile', (m) => {
    const { p50, p95, p99 } = m.askLatencyMs;
    const s = (ms: number | null) => (ms === null ? null : ms / 1000);
    return { '0.5': s(p50), '0.95': s(p95), '0.99': s(p99) };
  });
  gauge('genesis_ask_latency_samples', 'Ask latency samples the percentiles are computed from.', (m) => m.askLatencyMs.samples);
  labelled('genesis_mode', 'The system mode: 1 for the current one, 0 for the others.', 'mode', (m) =>
    Object.fromEntries(MODES.map((mode) => [mode, mode === m.mode ? 1 : 0])),
  );
  labelled('genesis_snapshot_age_seconds', 'Seconds since the last snapshot of each live snapshotting actor.', 'path', (m) =>
    Object.fromEntries(Object.entries(m.snapshotAgesMs).map(([path, ms]) => [path, ms === null ? null : ms / 1000])),
  );
  return registry;
}

/** Starts the endpoint; `read` is `system.metrics`, called once per scrape. */
export async function serveMetrics(systemName: string, read: () => SystemMetrics, options: ServeMetricsOptions | undefined): Promise<MetricsServer> {
  const { port, host } = serveMetricsOptions(options);
  let current: SystemMetrics | null = null;
  const registry = metricsRegistry(systemName, () => (current ??= read()));
  let scrapes = Promise.resolve(); // one scrape at a time: they share `current`
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    scrapes = scrapes.then(async () => {
      try {
        current = null;
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`);
      } finally {
        current = null;
      }
    });
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
