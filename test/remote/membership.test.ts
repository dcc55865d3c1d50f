/**
 * Membership alone, on a stand-in connection: heartbeats are handed to it as a NATS
 * subscription would, so what it concludes about nodes is checked without a server (the real
 * cluster is tested in cluster.test.ts).
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Membership } from '../../src/remote/membership.js';
import { resolveCluster } from '../../src/remote/options.js';
import { encode } from '../../src/remote/wire.js';

const left: Membership[] = [];
afterEach(() => {
  for (const m of left.splice(0)) m.leave();
});

/** A membership on a connection that publishes nowhere; returns it with its heartbeat handler and what it was told. */
function membership() {
  const nc = { publish: () => {}, isClosed: () => false, request: () => Promise.reject(new Error('no responders')) } as unknown as NatsConnection;
  const ups: string[] = [];
  const downs: string[] = [];
  const m = new Membership(
    nc,
    { log: pino({ level: 'silent' }), nodeUp: (node) => ups.push(node), nodeDown: (node) => downs.push(node), tick: () => {} },
    resolveCluster({ servers: 'nats://127.0.0.1:1', node: 'me', heartbeatMs: 1000, downAfterMs: 60_000 }),
  );
  const handlers = new Map<string, (msg: Msg) => void>();
  m.start((subject, onMessage) => {
    handlers.set(subject, onMessage);
    return { unsubscribe: () => {} } as never;
  });
  left.push(m);
  const heartbeat = (node: string, kind: 0 | 1, instance: string) =>
    handlers.get('genesis.node.*')!({ subject: `genesis.node.${node}`, data: encode([node, kind, instance]) } as Msg);
  return { m, heartbeat, ups, downs };
}

describe('Membership', () => {
  it('is told a node is up at its first heartbeat, down at its goodbye, and up again after', () => {
    const { m, heartbeat, ups, downs } = membership();
    heartbeat('b', 0, 'i1');
    heartbeat('b', 0, 'i1');
    expect([ups, downs, m.isDown('b')]).toEqual([['b'], [], false]);
    heartbeat('b', 1, 'i1');
    expect([downs, m.isDown('b')]).toEqual([['b'], true]);
    heartbeat('b', 0, 'i2');
    expect([ups, m.isDown('b')]).toEqual([['b', 'b'], false]);
  });

  it('takes a new instance id under a known name for a restart: down, then up', () => {
    const { m, heartbeat, ups, downs } = membership();
    heartbeat('b', 0, 'i1');
    heartbeat('b', 0, 'i2');
    expect([ups, downs, m.isDown('b')]).toEqual([['b', 'b'], ['b'], false]);
  });

  it('calls who waits on a node when it goes down, unless they stopped waiting', () => {
    const { m, heartbeat } = membership();
    const called: string[] = [];
    m.onDown('b', () => called.push('kept'));
    const forget = m.onDown('b', () => called.push('forgotten'));
    forget();
    heartbeat('b', 1, 'i1');
    expect(called).toEqual(['kept']);
  });

  it('remembers the 1024 nodes down most recently, forgetting the oldest', () => {
    const { m, heartbeat } = membership();
    for (let i = 0; i < 1100; i++) heartbeat(`n${i}`, 1, 'x');
    expect(m.isDown('n0')).toBe(false);
    expect(m.isDown('n75')).toBe(false);
    expect(m.isDown('n76')).toBe(true);
    expect(m.isDown('n1099')).toBe(true);
  });

  it('drops heartbeats that are not heartbeats (a throw the subscription logs), its own echo, and keeps going', () => {
    const { m, heartbeat, ups } = membership();
    expect(() => heartbeat('b.c', 0, 'i')).toThrow(TypeError);
    expect(() => heartbeat('b', 7 as 0, 'i')).toThrow(TypeError);
    heartbeat('me', 0, 'other'); // another process under this node's name: logged, not a node
    heartbeat('b', 0, 'i1');
    expect([ups, m.isDown('b')]).toEqual([['b'], false]);
  });
});
