/**
 * Partners on other nodes (`partners: ['b:/replica']`), over a real nats-server started here on
 * a free loopback port: snapshots replicated to the partner's node, restored on any node, and a
 * partner node that was away brought up to date. Nothing is mocked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorRef, type ActorSystem, ConfigError, type DownSignal, defineActor } from '../../src/index.js';
import { encode } from '../../src/remote/wire.js';
import { type NatsServer, startNatsServer } from '../../supervisors/cluster-nats.js';
import { startSystem, until } from '../helpers.js';
import { startChildNode } from './child-node.js';

type Msg = { add: number } | 'get';

const Account = defineActor<number, Msg>({
  init: () => 0,
  receive(total, msg, ctx) {
    if (msg === 'get') {
      ctx.reply(total);
      return total;
    }
    return total + msg.add;
  },
});

/** A partner: it does nothing itself; the copies it holds are the runtime's. */
const Replica = defineActor<null, never>({ init: () => null, receive() {} });

let nats: NatsServer;

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await nats?.stop();
});

function node(name: string, store = ':memory:'): Promise<ActorSystem> {
  return startSystem({ name, store, cluster: { servers: nats.url, node: name, heartbeatMs: 50, downAfterMs: 300 } });
}

/** The replica rows `system` keeps of `path`, newest first. */
function replicasOf(system: ActorSystem, path: string) {
  return system.snapshots(path).filter((s) => s.source === 'replica');
}

describe('partners on other nodes', () => {
  it('sends every snapshot to the partner on another node, which keeps it as a replica', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Replica, { name: 'replica' });
    const account = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
    account.tell({ add: 5 });
    await account.ask('get'); // handled before the snapshot
    await a.checkpoint('/account');
    await until(() => replicasOf(b, '/account')[0]?.seq === 1);
    expect(replicasOf(b, '/account')[0]).toMatchObject({ seq: 1, holder: '/replica' });
    // Only the partner's node keeps it: a holds its own row, no replica of a remote partner.
    expect(a.snapshots('/account').map((s) => s.source)).toEqual(['own']);
    expect(a.metrics().snapshots.replicasSent).toBe(1);
    expect(b.metrics().snapshots.replicasReceived).toBe(1);
  });

  it('restores the actor on the partner node from the replica once its node is gone', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const account = a.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 }, partners: ['b:/replica'] });
    for (const add of [10, 20, 12]) account.tell({ add });
    expect(await account.ask('get')).toBe(42);
    const newest = (await a.checkpoint('/account'))['/account'];
    await until(() => replicasOf(b, '/account')[0]?.seq === newest);
    await a.shutdown();
    // The work starts again on b, under the same path: its restore finds the replica held there.
    const moved = b.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 } });
    expect(await moved.ask('get')).toBe(42);
    moved.tell({ add: 1 });
    expect(await moved.ask('get')).toBe(43);
    // Its own snapshots go on from the replica's seq, not from 1.
    await b.checkpoint('/account');
    expect(b.snapshots('/account').find((s) => s.source === 'own')?.seq).toBeGreaterThan(3);
  });

  it('a first start fetches newer copies from the partners’ nodes before the actor runs', async () => {
    const b = await node('b');
    // The actor ran on b and moved on there (b's own snapshots); a has never seen it.
    const there = b.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 } });
    there.tell({ add: 7 });
    await there.ask('get'); // handled before the snapshot
    await b.checkpoint('/account');
    await b.stop(there);
    const a = await node('a');
    const here = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
    // The ask waits in the mailbox until the fetch and the restore are done.
    expect(await here.ask('get')).toBe(7);
    expect(a.metrics().snapshots.restored).toBe(1);
  });

  it('a standby on a surviving node restarts the work there from the replica once its node is killed', async () => {
    const { child, ready, kill } = startChildNode(nats.url, 'k', 'partner=t');
    try {
      await ready;
      const t = await node('t');
      t.spawn(Replica, { name: 'replica' });
      const remote = t.remote<Msg | number>('k', '/account');
      for (const n of [5, 10, 27]) remote.tell(n);
      expect(await remote.ask('get')).toBe(42);
      await until(() => (replicasOf(t, '/account')[0]?.seq ?? 0) >= 4); // 3 tells and the ask, each snapshotted
      // The standby: watches the work on k, and starts it here, under the same path, when k is down.
      const Standby = defineActor<null, ActorRef>({
        init: () => null,
        receive: (_s, ref, ctx) => {
          ctx.watch(ref);
          ctx.reply(true);
        },
        onSignal: (_s, down: DownSignal) => {
          if (down.reason === 'nodedown') t.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 } });
        },
      });
      await t.spawn(Standby, { name: 'standby' }).ask(remote as ActorRef); // watching
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await until(() => t.lookup('/account') !== undefined, 5000);
      expect(await t.lookup('/account')!.ask('get')).toBe(42);
    } finally {
      kill();
    }
  }, 30_000);

  it('a first start weighs the copies fetched against its own: the newest valid one wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genesis-partners-'));
    try {
      const store = join(dir, 'a.db');
      const b = await node('b');
      // A first process of node a: snapshot 1 goes to b too; snapshot 2 (a local partner only) stays here.
      let a = await node('a', store);
      const first = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
      first.tell({ add: 1 });
      await first.ask('get');
      await a.checkpoint('/account');
      await until(() => replicasOf(b, '/account').length === 1);
      await a.stop(first);
      const second = a.spawn(Account, { name: 'account', partners: ['/local-replica'] });
      second.tell({ add: 1 });
      await second.ask('get');
      await a.checkpoint('/account');
      await a.shutdown();
      // A new process of node a on the same file: it fetches b's copy (seq 1) and has its own (seq 2).
      a = await node('a', store);
      const third = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
      expect(await third.ask('get')).toBe(2);
      await a.shutdown();
      // The other way round: b's copy is the newer one (the actor moved on there), a's own is older.
      const moved = b.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 } });
      expect(await moved.ask('get')).toBe(1); // b held seq 1
      moved.tell({ add: 40 });
      await moved.ask('get');
      await b.checkpoint('/account');
      await b.stop(moved);
      a = await node('a', store);
      const fourth = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
      expect(await fourth.ask('get')).toBe(41);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a partner node that was away gets the newest copy as soon as it is heard from', async () => {
    const a = await node('a');
    const account = a.spawn(Account, { name: 'account', partners: ['b:/replica'] });
    account.tell({ add: 1 });
    await account.ask('get'); // handled before the snapshot
    await a.checkpoint('/account');
    account.tell({ add: 1 });
    await account.ask('get'); // handled before the snapshot
    await a.checkpoint('/account');
    const b = await node('b');
    await until(() => replicasOf(b, '/account')[0]?.seq === 2);
    const moved = b.spawn(Account, { name: 'account', snapshot: { everyMessages: 100 } });
    expect(await moved.ask('get')).toBe(2);
  });

  it('starts from init when no node holds a copy, and does not wait for a node that is not there', async () => {
    const a = await node('a');
    const started = performance.now();
    const account = a.spawn(Account, { name: 'account', partners: ['nowhere:/replica'] });
    expect(await account.ask('get')).toBe(0);
    // No node answers to that name: the fetch ends at once (the server says so), not at its 300 ms bound.
    expect(performance.now() - started).toBeLessThan(250);
    expect(a.metrics().snapshots.restored).toBe(0);
  });

  it('refuses a partner on another node without a cluster, and a malformed one', async () => {
    const alone = await startSystem();
    expect(() => alone.spawn(Account, { partners: ['b:/replica'] })).toThrow(ConfigError);
    expect(() => alone.spawn(Account, { partners: ['b:replica'] })).toThrow(ConfigError);
    expect(() => alone.spawn(Account, { partners: ['b.c:/replica'] })).toThrow(ConfigError);
    // Its own node's name is a local partner.
    const a = await node('a');
    a.spawn(Replica, { name: 'replica' });
    const account = a.spawn(Account, { name: 'account', partners: ['a:/replica'] });
    account.tell({ add: 3 });
    await account.ask('get'); // handled before the snapshot
    await a.checkpoint('/account');
    expect(replicasOf(a, '/account')[0]).toMatchObject({ seq: 1, holder: '/replica' });
  });

  it('drops and counts replica rows from the network that are not rows, keeping the good ones', async () => {
    const b = await node('b');
    const nc = await connect({ servers: nats.url });
    try {
      const good = { path: '/account', holder: '/replica', seq: 1, takenAt: Date.now(), version: 1, codec: 'x', checksum: 0, data: new Uint8Array([1]) };
      nc.publish('genesis.replica.b', encode(['rogue', [{ path: 42 }, { ...good, holder: null }, good]]));
      nc.publish('genesis.replica.b', encode(['rogue', 'not rows']));
      nc.publish('genesis.replica.b', new Uint8Array([0xc1])); // not msgpack at all
      await nc.flush();
    } finally {
      await nc.close();
    }
    await until(() => b.metrics().snapshots.replicasRefused === 3);
    expect(b.metrics().snapshots.replicasReceived).toBe(1);
    // The row that was kept is checked like any other when something restores from it: its
    // checksum is wrong, so the actor starts from init, and the system goes on.
    const account = b.spawn(Account, { name: 'account', snapshot: { everyMessages: 100 } });
    expect(await account.ask('get')).toBe(0);
    expect(b.metrics().snapshots.corrupt).toBeGreaterThanOrEqual(1);
  });
});
