/** The `cluster` option of `ActorSystem.start`, validated before anything connects. */
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber, show } from '../util/options.js';

/**
 * Joins a cluster of nodes over NATS (see README, "Scale-out (NATS)").
 *
 * @example
 * ```ts
 * const system = await ActorSystem.start({ cluster: { servers: 'nats://127.0.0.1:4222', node: 'a' } });
 * ```
 */
export interface ClusterOptions {
  /** The NATS server(s) to connect to: `'nats://host:4222'`, `'host:4222'`, or several. */
  servers: string | string[];
  /** This node's name, unique in the cluster: letters, digits, '_' and '-'. */
  node: string;
  /** How long to try to connect before the start fails (ms), 5000. */
  connectTimeoutMs?: number;
  /** How often this node tells the others it lives (ms), 250. */
  heartbeatMs?: number;
  /** A node not heard from for this long (ms) is down, 1000: at least twice `heartbeatMs`. */
  downAfterMs?: number;
}

export interface ResolvedCluster {
  servers: string[];
  node: string;
  connectTimeoutMs: number;
  heartbeatMs: number;
  downAfterMs: number;
}

const NODE_NAME = /^[A-Za-z0-9_-]+$/;

/** Is `node` a well-formed node name? */
export function isNodeName(node: unknown): node is string {
  return typeof node === 'string' && NODE_NAME.test(node);
}

/** A node name, as the cluster and `system.remote(node, …)` take it. */
export function checkNodeName(option: string, node: unknown): string {
  if (!isNodeName(node)) {
    throw new ConfigError(option, `must be a non-empty string of letters, digits, '_' and '-' (got ${show(node)})`);
  }
  return node;
}

export function resolveCluster(cluster: unknown): ResolvedCluster {
  checkObject('cluster', cluster);
  knownKeys('cluster', cluster, ['servers', 'node', 'connectTimeoutMs', 'heartbeatMs', 'downAfterMs']);
  const options = cluster as Partial<ClusterOptions>;
  const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s.length > 0 && !/\s/.test(s))) {
    throw new ConfigError('cluster.servers', `must be a server URL or a non-empty array of them (got ${show(options.servers)})`);
  }
  const heartbeatMs = options.heartbeatMs === undefined ? 250 : positiveNumber('cluster.heartbeatMs', options.heartbeatMs);
  const downAfterMs = options.downAfterMs === undefined ? Math.max(1000, 2 * heartbeatMs) : positiveNumber('cluster.downAfterMs', options.downAfterMs);
  if (downAfterMs < 2 * heartbeatMs) {
    throw new ConfigError('cluster.downAfterMs', `must be at least twice cluster.heartbeatMs (${heartbeatMs} ms): got ${downAfterMs}`);
  }
  return {
    servers: [...servers],
    node: checkNodeName('cluster.node', options.node),
    connectTimeoutMs: options.connectTimeoutMs === undefined ? 5000 : positiveNumber('cluster.connectTimeoutMs', options.connectTimeoutMs),
    heartbeatMs,
    downAfterMs,
  };
}
