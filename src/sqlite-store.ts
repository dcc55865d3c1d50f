/**
 * The default SnapshotStore: one SQLite file through better-sqlite3, owned by one store at a time.
 *
 * Ownership. The file is opened with `locking_mode = EXCLUSIVE` and the store takes SQLite's
 * exclusive lock at once (the schema check runs in `BEGIN EXCLUSIVE`) and keeps it until
 * `close()`. A second store on the same file — in this process or another — fails at once with
 * StoreLockedError (busy_timeout is 0 while the lock is taken). The lock is a POSIX file lock, so
 * the kernel drops it when the owning process dies, even by SIGKILL; the next open recovers the
 * WAL and goes on. Exclusive WAL keeps its index in heap memory: no -shm file.
 *
 * Layout. A rowid table, rows appended, with a unique index on (path, holder, seq); own rows
 * have holder '' internally (null outside). Retention recycles: a new row that pushes an old one
 * out of the kept set overwrites it in place (UPDATE by rowid) instead of INSERT + DELETE, so a
 * steady-state batch rewrites the pages it already had and the WAL carries half the pages. With
 * ~1 KB rows, WITHOUT ROWID on (path, holder, seq) measured 2–3× slower (rows stored in key
 * order, split across pages) and a rowid table with INSERT + DELETE about 1.5× slower.
 * 16 KB pages and a 64 MB WAL before auto-checkpoint measured best for 100–1000-row batches.
 *
 * Schema versions live in `PRAGMA user_version`; MIGRATIONS[i] takes a file from version i to
 * i + 1, all pending ones in one transaction. A file written by a newer schema is refused.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, GenesisError } from './errors.js';
import { checkRow, keepOf, storeClosed } from './memory-store.js';
import type { SnapshotRow, SnapshotStore } from './snapshot-store.js';

/** Another store (in this process or another one) has the file open. */
export class StoreLockedError extends GenesisError {
  constructor(readonly file: string) {
    super('STORE_LOCKED', `snapshot store ${file} is open in another SqliteSnapshotStore (this process or another); close that one first`);
  }
}

export interface SqliteStoreOptions {
  /** The database file (its folder is created if missing), or ':memory:'. */
  path: string;
  /**
   * 'process' (default): WAL, synchronous=NORMAL — a commit survives the process crashing, the
   * last commits may be lost on power loss or an OS crash. 'power': synchronous=FULL — each
   * commit is fsynced before writeBatch returns.
   */
  durability?: 'process' | 'power';
}

/** MIGRATIONS[i] upgrades a file from schema version i to i + 1. Append only; never edit one. */
const MIGRATIONS: readonly string[] = [
  // 1: own rows have holder '' (NOT NULL keeps the unique index strict).
  `CREATE TABLE snapshots (
     path TEXT NOT NULL,
     holder TEXT NOT NULL,
     seq INTEGER NOT NULL,
     taken_at INTEGER NOT NULL,
     version INTEGER NOT NULL,
     codec TEXT NOT NULL,
     checksum INTEGER NOT NULL,
     data BLOB NOT NULL
   );
   CREATE UNIQUE INDEX snapshots_key ON snapshots (path, holder, seq);`,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

const PAGE_SIZE = 16384;
/** Pages in the WAL before a checkpoint (64 MB), and the size a checkpoint trims it back to. */
const WAL_AUTOCHECKPOINT = 4000;
const JOURNAL_SIZE_LIMIT = 64 * 2 ** 20;
/** Page cache, in KiB (negative = KiB for SQLite). */
const CACHE_KIB = 32 * 1024;
/** Only for statements after the lock is ours; no other connection can be waiting by then. */
const BUSY_TIMEOUT_MS = 5000;

const COLUMNS = 'path, holder, seq, taken_at, version, codec, checksum, data';
type RawRow = [string, string, number, number, number, string, number, Uint8Array];
type Slot = [rowid: number, seq: number];

function toRow(raw: RawRow): SnapshotRow {
  return {
    path: raw[0],
    holder: raw[1] === '' ? null : raw[1],
    seq: raw[2],
    takenAt: raw[3],
    version: raw[4],
    codec: raw[5],
    checksum: raw[6],
    data: raw[7],
  };
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class SqliteSnapshotStore implements SnapshotStore {
  readonly path: string;
  readonly durability: 'process' | 'power';
  private readonly db: Database.Database;
  private closed = false;

  private readonly slots: Database.Statement<[string, string], Slot>;
  private readonly insert: Database.Statement<[string, string, number, number, number, string, number, Uint8Array]>;
  private readonly overwrite: Database.Statement<[number, number, number, string, number, Uint8Array, number]>;
  private readonly remove: Database.Statement<[number]>;
  private readonly selectLatest: Database.Statement<[string], RawRow>;
  private readonly selectOwn: Database.Statement<[string], RawRow>;
  private readonly selectReplicas: Database.Statement<[string], RawRow>;
  private readonly selectOne: Database.Statement<[string, number], RawRow>;
  private readonly selectMaxSeq: Database.Statement<[string], number | null>;
  private readonly nextPath: Database.Statement<[string], string>;
  private readonly write: (rows: SnapshotRow[], keepByPath: ReadonlyMap<string, number> | undefined) => void;

  constructor(options: SqliteStoreOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('store', 'must be an object { path, durability? }');
    const { path, durability = 'process' } = options;
    if (typeof path !== 'string' || path === '') throw new ConfigError('path', 'must be a file path or :memory:');
    if (durability !== 'process' && durability !== 'power') throw new ConfigError('durability', `must be 'process' or 'power', got ${String(durability)}`);
    this.path = path;
    this.durability = durability;
    const inMemory = path === ':memory:';
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });

    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 0'); // a file owned by another store: fail now, not in 5 s
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma(`page_size = ${PAGE_SIZE}`); // takes effect on a new file only
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!inMemory && mode !== 'wal') throw new ConfigError('path', `${path}: SQLite could not switch it to WAL (journal mode is ${String(mode)})`);
      migrate(db, path); // BEGIN EXCLUSIVE: the lock is ours from here until close()
      db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.pragma(`cache_size = ${-CACHE_KIB}`);
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    } catch (error) {
      db.close();
      const code = sqliteCode(error);
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreLockedError(path);
      if (code === 'SQLITE_NOTADB') throw new ConfigError('path', `${path} is not a SQLite database`);
      throw error;
    }
    this.db = db;

    this.slots = db.prepare<[string, string], Slot>('SELECT rowid, seq FROM snapshots WHERE path = ? AND holder = ? ORDER BY seq DESC').raw();
    this.insert = db.prepare(`INSERT INTO snapshots (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.overwrite = db.prepare('UPDATE snapshots SET seq = ?, taken_at = ?, version = ?, codec = ?, checksum = ?, data = ? WHERE rowid = ?');
    this.remove = db.prepare('DELETE FROM snapshots WHERE rowid = ?');
    // No `LIMIT ?`: a bound limit measured 2–3× slower than a literal one (or none) here.
    this.selectLatest = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' ORDER BY seq DESC LIMIT 1`).raw();
    this.selectOwn = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' ORDER BY seq DESC`).raw();
    this.selectReplicas = db
      .prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder > '' ORDER BY seq DESC, holder`)
      .raw();
    this.selectOne = db.prepare<[string, number], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' AND seq = ?`).raw();
    this.selectMaxSeq = db.prepare<[string], number | null>('SELECT max(seq) FROM snapshots WHERE path = ?').pluck();
    // A skip scan over the index: one seek per path, never a read of the rows themselves.
    this.nextPath = db.prepare<[string], string>("SELECT path FROM snapshots WHERE path > ? AND holder = '' ORDER BY path LIMIT 1").pluck();
    this.write = db.transaction((rows: SnapshotRow[], keepByPath: ReadonlyMap<string, number> | undefined) => {
      for (let i = 0; i < rows.length; i++) this.put(rows[i]!, keepByPath);
    });
  }

  writeBatch(rows: SnapshotRow[], keepByPath?: ReadonlyMap<string, number>): void {
    this.check();
    if (rows.length > 0) this.write(rows, keepByPath);
  }

  own(path: string, limit?: number): SnapshotRow[] {
    this.check();
    if (limit === undefined || limit === Infinity) return this.selectOwn.all(path).map(toRow);
    const n = Math.max(0, Math.trunc(limit));
    if (n === 1) {
      const raw = this.selectLatest.get(path); // the restore path
      return raw === undefined ? [] : [toRow(raw)];
    }
    const rows: SnapshotRow[] = [];
    if (n === 0) return rows;
    for (const raw of this.selectOwn.iterate(path)) {
      rows.push(toRow(raw));
      if (rows.length === n) break;
    }
    return rows;
  }

  replicas(path: string): SnapshotRow[] {
    this.check();
    return this.selectReplicas.all(path).map(toRow);
  }

  get(path: string, seq: number): SnapshotRow | undefined {
    this.check();
    const raw = this.selectOne.get(path, seq);
    return raw === undefined ? undefined : toRow(raw);
  }

  maxSeq(path: string): number {
    this.check();
    return this.selectMaxSeq.get(path) ?? 0;
  }

  paths(): string[] {
    this.check();
    const paths: string[] = [];
    for (let path = this.nextPath.get(''); path !== undefined; path = this.nextPath.get(path)) paths.push(path);
    return paths;
  }

  /** Releases the file (and its lock). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private check(): void {
    if (this.closed) throw storeClosed(this.path);
  }

  /**
   * Writes one row inside the batch's transaction and applies retention to its (path, holder):
   * the newest `keep` own rows, or the newest replica. Same result as INSERT then DELETE of
   * what falls out, but a row that falls out is overwritten by the new one when there is one.
   */
  private put(row: SnapshotRow, keepByPath: ReadonlyMap<string, number> | undefined): void {
    checkRow(row); // inside the transaction: a bad row rolls back the whole batch
    const holder = row.holder ?? '';
    const keep = row.holder === null ? keepOf(row.path, keepByPath) : 1;
    const slots = this.slots.all(row.path, holder); // newest first; normally ≤ keep of them
    let newer = 0; // stored rows newer than this one = its place in the list
    while (newer < slots.length && slots[newer]![1] > row.seq) newer++;
    let firstVictim: number; // slots from here on fall out of the kept set
    if (newer < slots.length && slots[newer]![1] === row.seq) {
      // Same seq again: replace it where it is (if it is kept at all).
      if (newer < keep) this.overwrite.run(row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data, slots[newer]![0]);
      firstVictim = keep;
    } else if (newer >= keep) {
      firstVictim = keep; // the new row itself would fall out: nothing to write
    } else {
      firstVictim = keep - 1; // the new row pushes one more out
      if (slots.length > firstVictim) {
        this.overwrite.run(row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data, slots[firstVictim]![0]);
        firstVictim++;
      } else {
        this.insert.run(row.path, holder, row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data);
      }
    }
    for (let i = firstVictim; i < slots.length; i++) this.remove.run(slots[i]![0]);
  }
}

/** Brings the file to SCHEMA_VERSION inside one exclusive transaction, which takes the lock. */
function migrate(db: Database.Database, path: string): void {
  db.exec('BEGIN EXCLUSIVE');
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new ConfigError('path', `${path} has snapshot schema version ${version}, newer than this code's ${SCHEMA_VERSION}: written by a newer Genesis`);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
