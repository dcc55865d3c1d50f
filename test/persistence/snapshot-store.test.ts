import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, GenesisError, SnapshotCorruptError } from '../../src/util/errors.js';
import { MemorySnapshotStore } from '../../src/persistence/memory-store.js';
import { CODEC, decodeRow, encodeState, rowChecksum, sealRow, snapshotRow } from '../../src/persistence/snapshot-codec.js';
import type { SkippedRow, SnapshotRow, SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { SCHEMA_VERSION, SqliteSnapshotStore, StoreLockedError } from '../../src/persistence/sqlite-store.js';
import { ActorSystem } from '../../src/system.js';

const root = resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const stores: SnapshotStore[] = [];

/** A fresh folder under the OS temp dir, removed after the file's tests. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'genesis-store-'));
  dirs.push(dir);
  return dir;
}

function track<T extends SnapshotStore>(store: T): T {
  stores.push(store);
  return store;
}

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A row of `path` at `seq` holding `state` (default `{ seq }`; an explicit undefined is kept). */
function row(path: string, seq: number, ...rest: [state?: unknown, holder?: string | null]): SnapshotRow {
  const state = rest.length > 0 ? rest[0] : { seq };
  return snapshotRow({ path, holder: rest[1] ?? null, seq, takenAt: 1_700_000_000_000 + seq, version: 1 }, state);
}

const seqs = (rows: SnapshotRow[]) => rows.map((r) => r.seq);

/** Runs an ESM script in a new Node process with tsx (so it can import src/*.ts). */
function child(
  script: string,
  onLine?: (line: string) => void,
): { done: Promise<{ code: number | null; signal: string | null; out: string; err: string }>; kill: () => void } {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (onLine) for (const line of chunk.split('\n')) if (line !== '') onLine(line);
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const done = new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolvePromise) =>
    proc.on('exit', (code, signal) => resolvePromise({ code, signal, out, err })),
  );
  return { done, kill: () => proc.kill('SIGKILL') };
}

const src = (file: string) => JSON.stringify(join(root, 'src', file));

/** A child that opens `file` as a store and prints the error code, or the decoded newest own row of `path`. */
function childOpen(file: string, path: string) {
  return child(`
    import { SqliteSnapshotStore } from ${src('persistence/sqlite-store.ts')};
    import { decodeRow } from ${src('persistence/snapshot-codec.ts')};
    try {
      const store = new SqliteSnapshotStore({ path: ${JSON.stringify(file)} });
      const rows = store.own(${JSON.stringify(path)});
      const replacer = (_key, v) => (typeof v === 'bigint' ? v + 'n' : v instanceof Map ? { map: [...v] } : v);
      console.log(JSON.stringify({ opened: true, seqs: rows.map((r) => r.seq), state: rows[0] && decodeRow(rows[0]) }, replacer));
      store.close();
    } catch (error) {
      console.log(JSON.stringify({ opened: false, code: error.code, message: error.message }));
    }`);
}

// ---- Both stores -----------------------------------------------------------------------

const kinds: [string, () => SnapshotStore][] = [
  ['MemorySnapshotStore', () => new MemorySnapshotStore()],
  ['SqliteSnapshotStore (file)', () => new SqliteSnapshotStore({ path: join(tempDir(), 'snapshots.db') })],
  ['SqliteSnapshotStore (:memory:)', () => new SqliteSnapshotStore({ path: ':memory:' })],
];

describe.each(kinds)('%s', (_name, make) => {
  const open = () => track(make());

  it('round-trips every supported type through encode → writeBatch → own/get → decodeRow', () => {
    const store = open();
    const state = {
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { nested: new Date(5) }],
        [3n, new Set(['x'])],
      ]),
      emptyMap: new Map(),
      set: new Set([1, 'b', null]),
      date: new Date(1_700_000_000_123),
      small: 5n,
      negative: -42n,
      int64: -(2n ** 63n),
      uint64: 2n ** 64n - 1n,
      beyond64: 2n ** 64n,
      large: -(2n ** 200n) - 7n,
      huge: 2n ** 4096n + 1n,
      bytes: new Uint8Array([0, 1, 255]),
      floats: new Float64Array([1.5, -2, Number.MAX_VALUE]),
      ints: new Int32Array([-1, 2 ** 31 - 1]),
      bigints: new BigInt64Array([-5n]),
      nested: { a: [1, { b: null, u: undefined }, [undefined]], deep: { deeper: { deepest: 'x' } } },
      undefinedField: undefined,
      nullField: null,
      numbers: [0, -1, 1.25, 2 ** 53, -(2 ** 40), NaN, Infinity],
      text: 'héllo ✓ 𝄞',
      flag: true,
      empty: {},
    };
    store.writeBatch([row('/a', 1, state), row('/a', 2, 'second'), row('/a', 2, 'replica', '/p')]);
    const [newest, first] = store.own('/a');
    expect(decodeRow(newest!)).toBe('second');
    const back = decodeRow(first!) as typeof state;
    expect(back).toStrictEqual(state);
    expect('undefinedField' in back && back.undefinedField === undefined).toBe(true);
    expect(back.map).toBeInstanceOf(Map);
    expect(back.nested).not.toBeInstanceOf(Map);
    expect(typeof back.small).toBe('bigint');
    expect(back.huge).toBe(2n ** 4096n + 1n);
    expect(decodeRow(store.get('/a', 1)!)).toStrictEqual(state);
    // Scalars and undefined as the whole state.
    for (const [seq, value] of [
      [3, undefined],
      [4, null],
      [5, 7n],
      [6, new Uint8Array([9])],
    ] as const) {
      store.writeBatch([row('/b', seq, value)], new Map([['/b', 10]]));
      expect(decodeRow(store.get('/b', seq)!)).toStrictEqual(value);
    }
  });

  it('returns rows as written, own rows with holder null', () => {
    const store = open();
    const written = row('/a', 7, { x: 1 });
    store.writeBatch([written]);
    const [stored] = store.own('/a');
    expect({ ...stored!, data: [...stored!.data] }).toEqual({ ...written, data: [...written.data] });
    expect(stored!.holder).toBeNull();
    expect(stored!.codec).toBe(CODEC);
  });

  it('keeps the newest 3 own rows by default, or keepByPath', () => {
    const store = open();
    for (let seq = 1; seq <= 6; seq++) store.writeBatch([row('/a', seq), row('/b', seq)], new Map([['/b', 2]]));
    expect(seqs(store.own('/a'))).toEqual([6, 5, 4]);
    expect(seqs(store.own('/b'))).toEqual([6, 5]);
    // Out of order within a batch, several rows of one actor in one batch.
    store.writeBatch([row('/c', 3), row('/c', 9), row('/c', 1), row('/c', 5), row('/c', 7)]);
    expect(seqs(store.own('/c'))).toEqual([9, 7, 5]);
    // An older row than all kept ones falls out at once.
    store.writeBatch([row('/c', 2)]);
    expect(seqs(store.own('/c'))).toEqual([9, 7, 5]);
    // A lower keep trims the extra rows on the next write; a higher one lets them grow.
    store.writeBatch([row('/c', 10)], new Map([['/c', 1]]));
    expect(seqs(store.own('/c'))).toEqual([10]);
    for (const seq of [11, 12, 13, 14]) store.writeBatch([row('/c', seq)], new Map([['/c', 5]]));
    expect(seqs(store.own('/c'))).toEqual([14, 13, 12, 11, 10]);
    expect(seqs(store.own('/c', 2))).toEqual([14, 13]);
  });

  it('keeps the newest replica per (holder, path)', () => {
    const store = open();
    store.writeBatch([row('/a', 1, 'a1', '/p'), row('/a', 1, 'a1', '/q'), row('/b', 1, 'b1', '/p')]);
    store.writeBatch([row('/a', 2, 'a2', '/p'), row('/a', 3, 'a3', '/p')]);
    store.writeBatch([row('/a', 1, 'old', '/q')]); // same seq again: replaced
    store.writeBatch([row('/a', 2, 'stale', '/p')]); // older than the held one: ignored
    const replicas = store.replicas('/a');
    expect(replicas.map((r) => [r.holder, r.seq, decodeRow(r)])).toEqual([
      ['/p', 3, 'a3'],
      ['/q', 1, 'old'],
    ]);
    expect(store.replicas('/b').map((r) => [r.holder, r.seq])).toEqual([['/p', 1]]);
    expect(store.own('/a')).toEqual([]);
  });

  it('separates own rows, replicas, get, maxSeq and paths', () => {
    const store = open();
    expect(store.paths()).toEqual([]);
    expect(store.maxSeq('/a')).toBe(0);
    store.writeBatch([row('/a', 1), row('/a', 2), row('/a', 5, 'r', '/p'), row('/only-replica', 8, 'r', '/p'), row('/b', 4)]);
    expect(seqs(store.own('/a'))).toEqual([2, 1]);
    expect(seqs(store.own('/a', 1))).toEqual([2]);
    expect(store.own('/a', 0)).toEqual([]);
    expect(seqs(store.replicas('/a'))).toEqual([5]);
    expect(store.get('/a', 1)?.seq).toBe(1);
    expect(store.get('/a', 5)).toBeUndefined(); // a replica is not an own snapshot
    expect(store.get('/a', 3)).toBeUndefined();
    expect(store.get('/nobody', 1)).toBeUndefined();
    expect(store.maxSeq('/a')).toBe(5); // own or replica
    expect(store.maxSeq('/only-replica')).toBe(8);
    expect(store.maxSeq('/b')).toBe(4);
    expect(store.paths()).toEqual(['/a', '/b']); // paths with own rows only
    expect(store.own('/nobody')).toEqual([]);
    expect(store.replicas('/nobody')).toEqual([]);
  });

  it('writes a batch all or nothing (group commit): one invalid row writes nothing', () => {
    const store = open();
    store.writeBatch([row('/a', 1)]);
    const bad = { ...row('/z', 1), seq: 1.5 };
    expect(() => store.writeBatch([row('/a', 2), row('/b', 1), bad, row('/c', 1)])).toThrow(TypeError);
    expect(() => store.writeBatch([row('/a', 2), { ...row('/b', 1), holder: '' }])).toThrow(/holder/);
    expect(() => store.writeBatch([row('/a', 2), { ...row('/b', 1), data: 'x' as unknown as Uint8Array }])).toThrow(/data/);
    expect(() => store.writeBatch([row('/a', 2), row('/b', 1)], new Map([['/b', 0]]))).toThrow(ConfigError);
    expect(seqs(store.own('/a'))).toEqual([1]);
    expect(store.paths()).toEqual(['/a']);
    store.writeBatch([]);
    // The store still works after a refused batch.
    store.writeBatch([row('/a', 2), row('/b', 1)]);
    expect(store.paths()).toEqual(['/a', '/b']);
  });

  it('hands out copies: changing a written or returned row changes nothing stored', () => {
    const store = open();
    const written = row('/a', 1, { x: [1, 2, 3] });
    store.writeBatch([written]);
    written.data[0] = written.data[0]! ^ 0xff;
    const read = store.own('/a')[0]!;
    expect(decodeRow(read)).toEqual({ x: [1, 2, 3] });
    read.data.fill(0);
    expect(decodeRow(store.own('/a')[0]!)).toEqual({ x: [1, 2, 3] });
    const restored = decodeRow(store.get('/a', 1)!) as { x: number[] };
    restored.x.push(4);
    expect(decodeRow(store.get('/a', 1)!)).toEqual({ x: [1, 2, 3] });
  });

  it('refuses calls after close with STORE_CLOSED; close is idempotent', () => {
    const store = make();
    store.close();
    store.close();
    expect(() => store.own('/a')).toThrow(expect.objectContaining({ code: 'STORE_CLOSED' }));
    expect(() => store.writeBatch([row('/a', 1)])).toThrow(GenesisError);
  });
});

// ---- The codec -------------------------------------------------------------------------

describe('snapshot codec', () => {
  const good = () => row('/acct', 7, { balance: 12, history: new Map([['+5', new Date(0)]]) });
  const corrupt = (r: SnapshotRow, why: RegExp) => {
    let error: unknown;
    try {
      decodeRow(r);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect(error).toMatchObject({ code: 'SNAPSHOT_CORRUPT', path: '/acct', seq: 7 });
    expect((error as Error).message).toMatch(why);
  };

  it('names the codec and checksums the data with CRC32', () => {
    const encoded = encodeState({ a: 1 });
    expect(encoded.codec).toBe('msgpackr/1');
    expect(encoded.dataCrc).toBe(crc32(encoded.data));
    expect(encoded.data).toBeInstanceOf(Uint8Array);
  });

  it('throws SnapshotCorruptError for a flipped data byte, a wrong checksum, truncation, garbage, an unknown codec', () => {
    const r = good();
    for (let i = 0; i < r.data.length; i++) {
      const data = Uint8Array.from(r.data);
      data[i] = data[i]! ^ 0x01;
      corrupt({ ...r, data }, /checksum mismatch/);
    }
    corrupt({ ...r, checksum: (r.checksum + 1) >>> 0 }, /checksum mismatch/);
    corrupt({ ...r, data: r.data.subarray(0, r.data.length - 1) }, /checksum mismatch/);
    // Truncated, or with trailing bytes, but with a matching checksum: the decoder catches it.
    const resealed = (data: Uint8Array) => ({ ...r, data, checksum: rowChecksum({ ...r, data }) });
    for (let n = 0; n < r.data.length; n++) corrupt(resealed(r.data.slice(0, n)), /does not decode/);
    corrupt(resealed(Uint8Array.from([...r.data, 0x01])), /does not decode/);
    corrupt(resealed(Uint8Array.from([0xc1, 0xc1, 0xc1])), /does not decode/);
    corrupt({ ...r, codec: 'msgpackr/2' }, /unknown codec 'msgpackr\/2'/);
    corrupt({ ...r, data: 'x' as unknown as Uint8Array }, /data must be a Uint8Array/);
    expect(decodeRow(r)).toEqual({ balance: 12, history: new Map([['+5', new Date(0)]]) });
  });

  it('refuses a state it cannot encode with a TypeError that says why', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => encodeState(cyclic)).toThrow(/cycle/);
    expect(() => encodeState({ s: Symbol('x') })).toThrow(TypeError);
    // The shared encoder is fine afterwards.
    expect(decodeRow(sealRow(row('/x', 1), encodeState({ ok: [1] })))).toEqual({ ok: [1] });
  });

  it('needs no state shared between processes: another process decodes what this one wrote', async () => {
    const shapes = Array.from({ length: 5 }, (_, i) => encodeState({ i, common: { x: i, y: [i] }, m: new Map([['k', { i }]]) }));
    const last = shapes.at(-1)!; // written after the encoder had seen the same shapes 4 times
    const { out, err } = await child(`
      import { decodeRow } from ${src('persistence/snapshot-codec.ts')};
      const data = Uint8Array.from(Buffer.from(${JSON.stringify(Buffer.from(last.data).toString('base64'))}, 'base64'));
      const value = decodeRow({ path: '/x', holder: null, seq: 1, takenAt: 0, version: 1, codec: ${JSON.stringify(last.codec)}, checksum: ${sealRow({ path: '/x', holder: null, seq: 1, takenAt: 0, version: 1 }, last).checksum}, data });
      console.log(JSON.stringify({ i: value.i, common: value.common, map: value.m instanceof Map, k: value.m.get('k') }));
    `).done;
    expect(err).toBe('');
    expect(JSON.parse(out)).toEqual({ i: 4, common: { x: 4, y: [4] }, map: true, k: { i: 4 } });
  });
});

// ---- SQLite only -----------------------------------------------------------------------

describe('SqliteSnapshotStore', () => {
  const newFile = () => join(tempDir(), 'snapshots.db');

  it('creates the folder, the schema at the current user_version, WAL and the chosen durability', () => {
    const file = join(tempDir(), 'a', 'b', 'snapshots.db');
    const store = new SqliteSnapshotStore({ path: file });
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    store.close();
    const power = new SqliteSnapshotStore({ path: file, durability: 'power' });
    expect((power as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    power.close();
    const raw = new Database(file);
    expect(SCHEMA_VERSION).toBe(2);
    expect(raw.pragma('user_version', { simple: true })).toBe(2);
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name").pluck().all()).toEqual(['snapshots', 'snapshots_key']);
    raw.close();
  });

  it('refuses bad options and files with ConfigError', () => {
    expect(() => new SqliteSnapshotStore({ path: '' })).toThrow(ConfigError);
    expect(() => new SqliteSnapshotStore({ path: newFile(), durability: 'disk' as 'power' })).toThrow(/invalid durability/);
    const notDb = join(tempDir(), 'not.db');
    writeFileSync(notDb, 'x'.repeat(4096));
    expect(() => new SqliteSnapshotStore({ path: notDb })).toThrow(/not a SQLite database/);
  });

  it('refuses a file with a newer schema version, naming the path, and leaves it as it was', () => {
    const file = newFile();
    new SqliteSnapshotStore({ path: file }).close();
    const raw = new Database(file);
    raw.pragma('user_version = 3');
    raw.close();
    let error: unknown;
    try {
      new SqliteSnapshotStore({ path: file });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/schema version 3, newer than this code's 2/);
    const after = new Database(file); // not locked: the refused store let go of the file
    expect(after.pragma('user_version', { simple: true })).toBe(3);
    after.close();
  });

  it('never crashes on rows corrupted in the file: own() returns them and decodeRow throws, or leaves out and reports an ill-typed one', () => {
    const file = newFile();
    let store = new SqliteSnapshotStore({ path: file });
    const keep = new Map([['/a', 10]]);
    store.writeBatch(
      [1, 2, 3, 4, 5, 6].map((seq) => row('/a', seq, { seq, pad: 'x'.repeat(50) })),
      keep,
    );
    store.writeBatch([row('/a', 9, 'replica', '/p')]);
    store.close();

    const raw = new Database(file);
    const data = raw.prepare("SELECT data FROM snapshots WHERE path = '/a' AND holder = '' AND seq = 1").pluck().get() as Buffer;
    const flipped = Buffer.from(data);
    flipped[10] = flipped[10]! ^ 0x40;
    raw.prepare("UPDATE snapshots SET data = ? WHERE path = '/a' AND holder = '' AND seq = 1").run(flipped);
    raw.exec("UPDATE snapshots SET checksum = checksum + 1 WHERE path = '/a' AND holder = '' AND seq = 2");
    raw.exec("UPDATE snapshots SET data = substr(data, 1, 10) WHERE path = '/a' AND holder = '' AND seq = 3");
    raw.exec("UPDATE snapshots SET codec = 'zstd/9' WHERE path = '/a' AND holder = '' AND seq = 4");
    raw.exec("UPDATE snapshots SET data = 'text, not a blob' WHERE path = '/a' AND holder = '' AND seq = 5");
    raw.exec("UPDATE snapshots SET data = x'c1', checksum = 0 WHERE holder = '/p'");
    raw.close();

    store = track(new SqliteSnapshotStore({ path: file }));
    const skipped: SkippedRow[] = [];
    store.onCorrupt = (r) => skipped.push(r);
    const rows = store.own('/a');
    expect(seqs(rows)).toEqual([6, 4, 3, 2, 1]); // 5: its data is text, not bytes
    expect(skipped).toEqual([{ path: '/a', holder: null, seq: 5, why: expect.stringMatching(/data must be a Uint8Array/) }]);
    expect(decodeRow(rows[0]!)).toEqual({ seq: 6, pad: 'x'.repeat(50) });
    for (const r of rows.slice(1)) expect(() => decodeRow(r)).toThrow(SnapshotCorruptError);
    expect(() => decodeRow(store.replicas('/a')[0]!)).toThrow(SnapshotCorruptError);
    expect(() => decodeRow(store.get('/a', 3)!)).toThrow(/checksum mismatch/);
    expect(store.get('/a', 5)).toBeUndefined();
    expect(store.maxSeq('/a')).toBe(9);
    expect(store.paths()).toEqual(['/a']);
    // Writing and retention go on over the corrupt rows.
    store.writeBatch([row('/a', 7)]);
    expect(seqs(store.own('/a'))).toEqual([7, 6]); // 5 keeps its place among the 3 kept: its seq is fine
  });

  it('refuses a second store on the same file in this process, and allows it after close', () => {
    const file = newFile();
    const first = new SqliteSnapshotStore({ path: file });
    first.writeBatch([row('/a', 1, 'one')]);
    const started = performance.now();
    let error: unknown;
    try {
      new SqliteSnapshotStore({ path: file });
    } catch (e) {
      error = e;
    }
    expect(performance.now() - started).toBeLessThan(1000); // fails fast, no busy wait
    expect(error).toBeInstanceOf(StoreLockedError);
    expect(error).toMatchObject({ code: 'STORE_LOCKED', file });
    expect((error as Error).message).toContain(file);
    // A plain connection cannot read it either.
    const raw = new Database(file, { timeout: 0 });
    expect(() => raw.prepare('SELECT count(*) FROM snapshots').get()).toThrow(/locked/);
    raw.close();
    first.close();
    const second = track(new SqliteSnapshotStore({ path: file }));
    expect(decodeRow(second.own('/a')[0]!)).toBe('one');
  });

  it('refuses a store in another process while this one is open, and allows it after close', async () => {
    const file = newFile();
    const store = new SqliteSnapshotStore({ path: file });
    store.writeBatch([row('/a', 1, { from: 'parent', big: 2n ** 100n, m: new Map([[1, 2]]) })]);
    const refused = JSON.parse((await childOpen(file, '/a').done).out);
    expect(refused).toMatchObject({ opened: false, code: 'STORE_LOCKED' });
    expect(refused.message).toContain(file);
    store.close();
    const { out, err } = await childOpen(file, '/a').done;
    expect(err).toBe('');
    expect(JSON.parse(out)).toEqual({ opened: true, seqs: [1], state: { from: 'parent', big: `${2n ** 100n}n`, m: { map: [[1, 2]] } } });
  });

  it('releases the lock when the owning process is killed (SIGKILL), keeping what it committed', async () => {
    const file = newFile();
    let onReady!: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    const holder = child(
      `
      import { SqliteSnapshotStore } from ${src('persistence/sqlite-store.ts')};
      import { snapshotRow } from ${src('persistence/snapshot-codec.ts')};
      const store = new SqliteSnapshotStore({ path: ${JSON.stringify(file)} });
      store.writeBatch(Array.from({ length: 100 }, (_, i) => snapshotRow({ path: '/a' + i, holder: null, seq: 1, takenAt: 0, version: 1 }, { i })));
      console.log('ready');
      setInterval(() => {}, 1000);`,
      (line) => line === 'ready' && onReady(),
    );
    await ready;
    expect(() => new SqliteSnapshotStore({ path: file })).toThrow(StoreLockedError);
    expect(existsSync(`${file}-wal`)).toBe(true);
    holder.kill();
    expect((await holder.done).signal).toBe('SIGKILL');
    const store = track(new SqliteSnapshotStore({ path: file }));
    expect(store.paths()).toHaveLength(100);
    expect(decodeRow(store.own('/a42')[0]!)).toEqual({ i: 42 });
  });
});

// ---- Damaged, foreign and misplaced files ----------------------------------------------

describe('SqliteSnapshotStore: damaged, foreign and misplaced files', () => {
  const newFile = () => join(tempDir(), 'snapshots.db');
  const errorOf = (fn: () => unknown): Error & Record<string, unknown> => {
    try {
      fn();
    } catch (e) {
      return e as Error & Record<string, unknown>;
    }
    throw new Error('it did not throw');
  };

  it('leaves a stored row whose seq is not a safe integer out of reads, maxSeq and retention, reporting it', () => {
    for (const bad of ["'3x'", '2.5', '9007199254740993', '-4']) {
      const file = newFile();
      let store = new SqliteSnapshotStore({ path: file });
      store.writeBatch([row('/a', 1), row('/a', 2), row('/a', 3), row('/b', 1)]);
      store.close();
      const raw = new Database(file);
      raw.exec(`UPDATE snapshots SET seq = ${bad} WHERE path = '/a' AND seq = 3`);
      raw.close();

      store = track(new SqliteSnapshotStore({ path: file }));
      const skipped: SkippedRow[] = [];
      store.onCorrupt = (r) => skipped.push(r);
      expect(seqs(store.own('/a')), bad).toEqual([2, 1]);
      expect(seqs(store.own('/a', 1)), bad).toEqual([2]);
      expect(skipped, bad).toHaveLength(bad === '-4' ? 1 : 2); // once per read that meets it (-4 sorts last, after the newest)
      for (const r of skipped) expect(r, bad).toMatchObject({ path: '/a', holder: null, why: expect.stringMatching(/^seq must be a non-negative safe integer/) });
      expect(store.maxSeq('/a'), bad).toBe(2);
      // Writes go on, for this actor and any other, in one batch; the damaged row blocks none.
      store.writeBatch([row('/a', 3), row('/a', 4), row('/b', 2)]);
      expect(seqs(store.own('/a')), bad).toEqual([4, 3, 2]);
      expect(seqs(store.own('/b')), bad).toEqual([2, 1]);
      expect(decodeRow(store.own('/a', 1)[0]!), bad).toEqual({ seq: 4 });
    }
  });

  it('refuses a row whose path, holder, seq, taken_at, version or codec was damaged in the file: the checksum covers the whole row', () => {
    const file = newFile();
    let store = new SqliteSnapshotStore({ path: file });
    store.writeBatch([row('/alice', 5, { owner: 'alice' }), ...[1, 2, 3, 4, 6].map((seq) => row('/bob', seq, { owner: 'bob', seq }))], new Map([['/bob', 10]]));
    store.close();
    const raw = new Database(file);
    raw.exec("UPDATE snapshots SET path = '/bob' WHERE path = '/alice'"); // now /bob's seq 5
    raw.exec("UPDATE snapshots SET seq = 9 WHERE path = '/bob' AND seq = 1"); // an old row turned newest
    raw.exec("UPDATE snapshots SET holder = '/partner' WHERE path = '/bob' AND seq = 2");
    raw.exec("UPDATE snapshots SET taken_at = taken_at + 1 WHERE path = '/bob' AND seq = 3");
    raw.exec("UPDATE snapshots SET version = 0 WHERE path = '/bob' AND seq = 4");
    raw.close();

    store = track(new SqliteSnapshotStore({ path: file }));
    const own = store.own('/bob');
    expect(seqs(own)).toEqual([9, 6, 5, 4, 3]);
    const valid = own.filter((r) => {
      try {
        decodeRow(r);
        return true;
      } catch (error) {
        expect(error).toBeInstanceOf(SnapshotCorruptError);
        expect((error as Error).message).toMatch(/checksum mismatch/);
        return false;
      }
    });
    expect(valid.map((r) => [r.seq, decodeRow(r)])).toEqual([[6, { owner: 'bob', seq: 6 }]]);
    expect(() => decodeRow(store.replicas('/bob')[0]!)).toThrow(/checksum mismatch/);
    const good = row('/bob', 6, { owner: 'bob', seq: 6 });
    expect(() => decodeRow({ ...good, codec: 'msgpackr/1 ' })).toThrow(SnapshotCorruptError);
  });

  it('reads a file written by schema version 1: rows whose old checksum holds are resealed, a damaged one stays corrupt', () => {
    const file = newFile();
    const raw = new Database(file);
    raw.exec(`CREATE TABLE snapshots (path TEXT NOT NULL, holder TEXT NOT NULL, seq INTEGER NOT NULL, taken_at INTEGER NOT NULL,
                version INTEGER NOT NULL, codec TEXT NOT NULL, checksum INTEGER NOT NULL, data BLOB NOT NULL);
              CREATE UNIQUE INDEX snapshots_key ON snapshots (path, holder, seq);`);
    raw.pragma('user_version = 1');
    const insert = raw.prepare('INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const v1 = (path: string, holder: string, seq: number, state: unknown, damaged = false) => {
      const { codec, data } = encodeState(state);
      insert.run(path, holder, seq, 1000 + seq, 1, codec, damaged ? crc32(data) ^ 1 : crc32(data), data); // version 1: CRC32 of data only
    };
    v1('/a', '', 1, { n: 1 });
    v1('/a', '', 2, { n: 2 }, true);
    v1('/a', '/p', 2, { n: 2, replica: true });
    raw.close();

    let store = new SqliteSnapshotStore({ path: file });
    expect(decodeRow(store.get('/a', 1)!)).toEqual({ n: 1 });
    expect(() => decodeRow(store.get('/a', 2)!)).toThrow(/checksum mismatch/);
    expect(decodeRow(store.replicas('/a')[0]!)).toEqual({ n: 2, replica: true });
    store.writeBatch([row('/a', 3, { n: 3 })]);
    store.close();
    const after = new Database(file);
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    after.close();
    store = track(new SqliteSnapshotStore({ path: file })); // already current: nothing resealed twice
    expect(
      store.own('/a').map((r) => [
        r.seq,
        (() => {
          try {
            return decodeRow(r);
          } catch {
            return 'corrupt';
          }
        })(),
      ]),
    ).toEqual([
      [3, { n: 3 }],
      [2, 'corrupt'],
      [1, { n: 1 }],
    ]);
  });

  it('refuses a SQLite file of another application with NotASnapshotStoreError naming the path, leaves it as it was and lets go of it', async () => {
    const cases: [ddl: string, userVersion: number][] = [
      ['CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)', 0],
      ['CREATE TABLE snapshots (id INTEGER PRIMARY KEY, body TEXT)', 0],
      ['CREATE TABLE snapshots (id INTEGER PRIMARY KEY, body TEXT)', 1],
      ['CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)', 7],
    ];
    for (const [ddl, userVersion] of cases) {
      const file = newFile();
      const raw = new Database(file);
      raw.exec(ddl);
      raw.pragma(`user_version = ${userVersion}`);
      raw.close();
      for (const open of [() => new SqliteSnapshotStore({ path: file }), () => new SqliteSnapshotStore({ path: file })]) {
        const error = errorOf(open); // twice: the first refusal let go of the file
        expect(error, ddl).toBeInstanceOf(GenesisError);
        expect(error, ddl).toMatchObject({ code: 'NOT_A_SNAPSHOT_STORE', file });
        expect(error.message, ddl).toContain(`${file} is not a Genesis snapshot store`);
      }
      await expect(ActorSystem.start({ store: file, logger: { level: 'silent' } })).rejects.toMatchObject({ code: 'NOT_A_SNAPSHOT_STORE' });
      // Untouched and not locked: another connection reads and writes it at once, as before.
      const other = new Database(file, { timeout: 0 });
      expect(other.pragma('journal_mode', { simple: true }), ddl).toBe('delete');
      expect(other.pragma('user_version', { simple: true }), ddl).toBe(userVersion);
      const table = ddl.split(' ')[2]!;
      expect(other.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), ddl).toEqual([table]);
      other.prepare(`INSERT INTO ${table} VALUES (1, 'x')`).run();
      other.close();
    }
  });

  it('refuses a store path that is a directory or lies under a regular file with ConfigError naming the store option', async () => {
    const dir = tempDir();
    const plain = join(dir, 'plain');
    writeFileSync(plain, 'not a folder');
    const cases: [path: string, why: RegExp][] = [
      [dir, /is a directory/],
      [join(plain, 'snapshots.db'), /plain is a file, not a directory/],
      [join(plain, 'deeper', 'snapshots.db'), /plain is a file, not a directory/],
    ];
    for (const [path, why] of cases) {
      const error = errorOf(() => new SqliteSnapshotStore({ path }));
      expect(error, path).toBeInstanceOf(ConfigError);
      expect(error, path).toMatchObject({ option: 'store' });
      expect(error.message, path).toContain(path);
      expect(error.message, path).toMatch(why);
      await expect(ActorSystem.start({ store: path, logger: { level: 'silent' } })).rejects.toMatchObject({ code: 'CONFIG', option: 'store' });
    }
  });

  it('finds the rows a write replaces with index seeks: rows read per write do not grow with keep', () => {
    /** Rows better-sqlite3 hands back, and the SQL run, while `fn` runs. */
    const watch = (db: Database.Database, fn: () => void) => {
      const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<'get' | 'all' | 'iterate' | 'run', (...args: unknown[]) => unknown>;
      const saved = { get: proto.get, all: proto.all, iterate: proto.iterate, run: proto.run };
      const seen = { rows: 0, sql: new Set<string>() };
      proto.get = function (this: Database.Statement, ...args) {
        seen.sql.add(this.source);
        const r = saved.get.apply(this, args);
        if (r !== undefined) seen.rows++;
        return r;
      };
      proto.all = function (this: Database.Statement, ...args) {
        seen.sql.add(this.source);
        const r = saved.all.apply(this, args) as unknown[];
        seen.rows += r.length;
        return r;
      };
      proto.iterate = function* (this: Database.Statement, ...args) {
        seen.sql.add(this.source);
        for (const r of saved.iterate.apply(this, args) as Iterable<unknown>) {
          seen.rows++;
          yield r;
        }
      };
      proto.run = function (this: Database.Statement, ...args) {
        seen.sql.add(this.source);
        return saved.run.apply(this, args);
      };
      try {
        fn();
      } finally {
        Object.assign(proto, saved);
      }
      return seen;
    };
    const WRITES = 20;
    const steadyState = (keep: number) => {
      const store = track(new SqliteSnapshotStore({ path: ':memory:' }));
      const db = (store as unknown as { db: Database.Database }).db;
      const keepBy = new Map([['/a', keep]]);
      store.writeBatch(
        Array.from({ length: keep }, (_, i) => row('/a', i + 1)),
        keepBy,
      );
      store.writeBatch([row('/a', keep + 1), row('/a', keep + 1, 'r', '/p')], keepBy); // the first write of a range counts it once
      const seen = watch(db, () => {
        for (let seq = keep + 2; seq < keep + 2 + WRITES; seq++) store.writeBatch([row('/a', seq), row('/a', seq, 'r', '/p')], keepBy);
      });
      expect(store.own('/a', Infinity)).toHaveLength(keep);
      expect(store.own('/a', 1)[0]!.seq).toBe(keep + 1 + WRITES);
      return { perWrite: seen.rows / WRITES, sql: seen.sql, db };
    };
    const small = steadyState(3);
    const large = steadyState(3000);
    expect(large.perWrite).toBe(small.perWrite);
    expect(large.perWrite).toBeLessThanOrEqual(4);
    // Every statement a write runs seeks the index (or the rowid): no scan of the table, no sort.
    for (const sql of large.sql) {
      const params = new Array((sql.match(/\?/g) ?? []).length).fill(null);
      const plan = (large.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((p) => p.detail);
      for (const step of plan) expect(step, sql).not.toMatch(/^SCAN snapshots|TEMP B-TREE/);
    }
  });
});
