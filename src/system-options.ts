/**
 * The options of `ActorSystem.start` — validated here, before anything runs — and the shapes the
 * system reports (escalations, metrics).
 */
import type { Logger, LoggerOptions } from 'pino';
import type { ExitReason } from './core/actor.js';
import type { SnapshotStore } from './persistence/snapshot-store.js';
import { SqliteSnapshotStore } from './persistence/sqlite-store.js';
import { type BackoffOptions, DEFAULT_SUPERVISION, type Intensity, type SupervisionConfig, supervisionConfig } from './supervision/spec.js';
import { type ModesOptions, type ResolvedModes, resolveModes } from './modes/modes.js';
import { type ClusterOptions, type ResolvedCluster, resolveCluster } from './remote/options.js';
import { type Clock, realClock } from './util/clock.js';
import { ConfigError } from './util/errors.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from './util/options.js';

export type { SystemMetrics } from './observability/metrics.js';

/**
 * The options of `ActorSystem.start`. Every option is checked: an unknown key or a bad value
 * fails the start with a ConfigError naming it.
 *
 * @example
 * ```ts
 * const system = await ActorSystem.start({
 *   name: 'trading', store: 'data/genesis.db', durability: 'power',
 *   logger: { level: 'warn' }, askTimeoutMs: 2_000, deadLetterCapacity: 10_000,
 * });
 * ```
 */
export interface SystemOptions {
  /** Names the system in its logs and in SystemStoppedError (default 'genesis'). */
  name?: string;
  /**
   * Where snapshots go: a SQLite file path (default 'data/genesis.db', opened when the first
   * snapshotting actor starts), ':memory:', a SnapshotStore, or false (no snapshots).
   */
  store?: string | false | SnapshotStore;
  /** SQLite durability: 'process' (survives a process crash, default) or 'power' (fsync). */
  durability?: 'process' | 'power';
  /** A pino logger to use (a child is taken), or pino options for a new one. */
  logger?: Logger | LoggerOptions;
  /** Time source for deadlines and delays; a SimulatedClock in tests. */
  clock?: Clock;
  /** Thresholds of the system modes (see README, "System modes"); false: set by hand only. */
  modes?: ModesOptions | false;
  /** Default ask timeout (ms), 5000. */
  askTimeoutMs?: number;
  /** How many dead letters the ring keeps, 1000. */
  deadLetterCapacity?: number;
  /** Random source for backoff jitter (default Math.random); seed it in tests. */
  random?: () => number;
  /**
   * The root supervisor's limits over the top-level actors (`system.spawn`, `system.start`), each
   * counted apart: `intensity` (default 3 restarts in 5 s) and `backoff` (default none).
   */
  root?: { intensity?: Intensity; backoff?: BackoffOptions };
  /**
   * Joins a cluster over NATS as `node` (see README, "Scale-out (NATS)"): `system.remote(node,
   * path)` reaches actors on other nodes, and `publish` reaches their subscribers. The start
   * fails with ClusterUnreachableError when no server answers.
   */
  cluster?: ClusterOptions;
}

/**
 * An escalation that reached the root supervisor: the subtree is revived after a backoff, or given up.
 *
 * @example
 * ```ts
 * for (const { path, decision, at } of system.escalations()) console.warn(path, decision, new Date(at));
 * ```
 */
export interface Escalation {
  /** The top-level actor whose subtree exceeded the root's restart intensity. */
  path: string;
  /** The last exit that exceeded its intensity. */
  reason: ExitReason;
  /** Wall-clock time (ms since the epoch). */
  at: number;
  /**
   * `'revive'`: it had run, and is restarted after the root's backoff (its refs kept);
   * `'failed'`: it never got through its init, and is given up (status 'failed').
   */
  decision: 'revive' | 'failed';
}

/** How the system opens its snapshot store, from the `store` option. */
export function storeOpener(store: SystemOptions['store'], durability: SystemOptions['durability']): (() => SnapshotStore) | null {
  if (durability !== undefined && durability !== 'process' && durability !== 'power') {
    throw new ConfigError('durability', `must be 'process' or 'power' (got ${String(durability)})`);
  }
  if (store === false) return null;
  if (store === undefined || typeof store === 'string') {
    const path = store ?? DEFAULT_STORE;
    return () => new SqliteSnapshotStore({ path, durability: durability ?? 'process' });
  }
  if (typeof store === 'object' && store !== null && typeof (store as SnapshotStore).writeBatch === 'function') return () => store;
  throw new ConfigError('store', "must be a file path, ':memory:', a SnapshotStore or false");
}

export const SYSTEM_KEYS = ['name', 'store', 'durability', 'logger', 'clock', 'modes', 'askTimeoutMs', 'deadLetterCapacity', 'random', 'root', 'cluster'];
const DEFAULT_STORE = 'data/genesis.db';

/** The validated settings of `ActorSystem.start(options)` (a ConfigError names a bad option). */
export function resolveSystemOptions(options: SystemOptions): {
  name: string;
  clock: Clock;
  deadLetterCapacity: number;
  random: () => number;
  askTimeoutMs: number;
  root: SupervisionConfig;
  modes: ResolvedModes;
  cluster: ResolvedCluster | null;
} {
  checkObject('ActorSystem.start(options)', options);
  knownKeys('ActorSystem.start(options)', options, SYSTEM_KEYS);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
    throw new ConfigError('name', `must be a non-empty string (got ${String(options.name)})`);
  }
  const clock = options.clock ?? realClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new ConfigError('clock', 'must have now(), setTimeout() and clearTimeout()');
  }
  if (options.random !== undefined && typeof options.random !== 'function') throw new ConfigError('random', 'must be a function returning [0, 1)');
  return {
    name: options.name ?? 'genesis',
    clock,
    deadLetterCapacity: options.deadLetterCapacity === undefined ? 1000 : positiveInteger('deadLetterCapacity', options.deadLetterCapacity),
    random: options.random ?? Math.random,
    askTimeoutMs: options.askTimeoutMs === undefined ? 5000 : positiveNumber('askTimeoutMs', options.askTimeoutMs),
    root: rootSupervision(options.root),
    modes: resolveModes(options.modes),
    cluster: options.cluster === undefined ? null : resolveCluster(options.cluster),
  };
}

/** The root supervisor's settings: one-for-one, with the given intensity and backoff. */
function rootSupervision(root: SystemOptions['root']): SupervisionConfig {
  if (root === undefined) return DEFAULT_SUPERVISION;
  checkObject('root', root);
  knownKeys('root', root, ['intensity', 'backoff']);
  return supervisionConfig({ strategy: 'one-for-one', intensity: root.intensity, backoff: root.backoff, children: [] }, 'root.');
}
