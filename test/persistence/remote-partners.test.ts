/**
 * Partners on other nodes, seen from persistence alone: a transport stands in for the cluster
 * (its fetch resolves when the test says), so the order of things around a first start is exact.
 * The real cluster is tested in test/remote/partners.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type ActorSystem, defineActor } from '../../src/index.js';
import type { ReplicaTransport } from '../../src/persistence/remote-partners.js';
import { splitPartners } from '../../src/persistence/remote-partners.js';
import { encodeState, sealRow } from '../../src/persistence/snapshot-codec.js';
import type { SnapshotRow } from '../../src/persistence/snapshot-store.js';
import type { Snapshots } from '../../src/persistence/snapshots.js';
import { nextTurn, startSystem } from '../helpers.js';

const Log = defineActor<number[], number | 'get'>({
  init: () => [],
  receive(seen, msg, ctx) {
    if (msg === 'get') ctx.reply([...seen]);
    else seen.push(msg);
    return seen;
  },
});

/** A transport whose fetches wait until `answer` is called; what was sent is kept. */
function fakeTransport(node = 'a') {
  const sent: Array<{ node: string; rows: SnapshotRow[] }> = [];
  const fetches: Array<{ node: string; path: string; answer: (rows: SnapshotRow[]) => void }> = [];
  const transport: ReplicaTransport = {
    node,
    send: (to, rows) => void sent.push({ node: to, rows }),
    fetch: (from, path) => new Promise((resolve) => fetches.push({ node: from, path, answer: resolve })),
  };
  return { transport, sent, fetches };
}

function snapshotsOf(system: ActorSystem): Snapshots {
  return (system as unknown as { snapshotting: Snapshots }).snapshotting;
}

function row(path: string, seq: number, state: unknown, holder = '/replica'): SnapshotRow {
  return sealRow({ path, holder, seq, takenAt: Date.now(), version: 1 }, encodeState(state));
}

describe('partners on other nodes (persistence)', () => {
  it('splits partners into local paths and node:/path ones, its own node being local', () => {
    expect(splitPartners(['/r1', 'b:/r2', 'a:/r3', 'c:/x/y'], 'a')).toEqual({
      local: ['/r1', '/r3'],
      remote: [
        { node: 'b', path: '/r2' },
        { node: 'c', path: '/x/y' },
      ],
    });
  });

  it('holds the mailbox of a first start until the fetch is answered, then restores the newest copy', async () => {
    const system = await startSystem();
    const { transport, fetches } = fakeTransport();
    snapshotsOf(system).connect(transport);
    const log = system.spawn(Log, { name: 'log', partners: ['b:/replica', 'c:/replica'] });
    log.tell(3);
    const answer = log.ask<number[]>('get');
    await nextTurn();
    expect(fetches.map((f) => [f.node, f.path])).toEqual([
      ['b', '/log'],
      ['c', '/log'],
    ]);
    let answered = false;
    void answer.then(() => (answered = true));
    await nextTurn();
    expect(answered).toBe(false); // nothing handled while the copies are on their way
    fetches[0]!.answer([row('/log', 4, [1, 2])]);
    fetches[1]!.answer([row('/log', 7, [1, 2, 7]), row('/log', 2, [9])]);
    // The newest valid copy (seq 7), then the messages in the order they came.
    expect(await answer).toEqual([1, 2, 7, 3]);
    expect(system.metrics().snapshots.restored).toBe(1);
  });

  it('fetches once per actor and process: a restart restores locally', async () => {
    const system = await startSystem();
    const { transport, fetches } = fakeTransport();
    snapshotsOf(system).connect(transport);
    const Crashy = defineActor<number, 'crash' | 'get'>({
      init: () => 0,
      receive(n, msg, ctx) {
        if (msg === 'crash') throw new Error('boom');
        ctx.reply(n);
        return n;
      },
    });
    const ref = system.spawn(Crashy, { name: 'crashy', partners: ['b:/replica'] });
    await nextTurn();
    fetches[0]!.answer([row('/crashy', 5, 41)]);
    expect(await ref.ask('get')).toBe(41);
    ref.tell('crash');
    expect(await ref.ask('get')).toBe(41); // restored again, from this process's own copy
    expect(fetches).toHaveLength(1);
  });

  it('sends each committed snapshot to the partner nodes, and the newest again when a node comes back', async () => {
    const system = await startSystem();
    const { transport, sent, fetches } = fakeTransport();
    snapshotsOf(system).connect(transport);
    const log = system.spawn(Log, { name: 'log', partners: ['b:/replica'] });
    await nextTurn();
    fetches[0]!.answer([]); // b holds no copy: it starts from init
    log.tell(1);
    await log.ask('get');
    await system.checkpoint('/log');
    log.tell(2);
    await log.ask('get');
    await system.checkpoint('/log');
    expect(sent.map((s) => [s.node, s.rows.map((r) => [r.path, r.holder, r.seq])])).toEqual([
      ['b', [['/log', '/replica', 1]]],
      ['b', [['/log', '/replica', 2]]],
    ]);
    snapshotsOf(system).nodeUp('b');
    expect(sent[2]).toMatchObject({ node: 'b', rows: [{ seq: 2 }] });
    // Stopped for good: its rows are not sent again.
    await system.stop(log);
    snapshotsOf(system).nodeUp('b');
    expect(sent).toHaveLength(3);
  });

  it('keeps the well-formed rows another node sends, as replicas, and refuses the rest', async () => {
    const system = await startSystem();
    snapshotsOf(system).connect(fakeTransport('b').transport);
    snapshotsOf(system).acceptReplicas([row('/log', 3, [5]), { path: 7 }, row('/log', 1, [1], null as never)], 'a');
    await nextTurn();
    expect(system.metrics().snapshots).toMatchObject({ replicasReceived: 1, replicasRefused: 2 });
    expect(system.snapshots('/log')).toMatchObject([{ seq: 3, source: 'replica', holder: '/replica' }]);
    expect(
      snapshotsOf(system)
        .copiesOf('/log')
        .map((r) => r.seq),
    ).toEqual([3]); // in the store and in memory: once
  });
});
