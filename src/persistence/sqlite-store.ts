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
 * Write cost does not depend on `keep`: a write finds its place and the row falling out with
 * index seeks at the ends of its (path, holder) range, never by reading the range. How many rows
 * a range holds is counted once per store and then kept in memory — safe because the file is
 * locked to this store; a failed transaction drops the counts.
 *
 * Damage. A row whose columns do not have their types (a seq that is text, 1.5 or beyond 2^53,
 * data that is text…) is left out of reads and reported through onCorrupt. Retention orders only
 * rows whose seq is a safe integer, so a damaged seq blocks no write — of its actor or any other;
 * a row damaged elsewhere keeps its place in the kept set until it falls out. Every other damage
 * is caught by the row checksum, which covers all columns that decide what is restored
 * (snapshot-codec.ts).
 *
 * Schema versions live in `PRAGMA user_version`; MIGRATIONS[i] takes a file from version i to
 * i + 1, all pending ones in one transaction. A file written by a newer schema is refused, and so
 * is a file that is not a snapshot store (another application's tables, a `snapshots` table of
 * another shape): NotASnapshotStoreError, with the file left as it was and let go.
 */
import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { ConfigError, NotASnapshotStoreError, StoreLockedError } from '../util/errors.js';

export { NotASnapshotStoreError, StoreLockedError } from '../util/errors.js';
import { checkRow, keepOf, rowProblem, storeClosed } from './memory-store.js';
import { rowChecksum } from './snapshot-codec.js';
import type { SkippedRow, SnapshotRow, SnapshotStore } from './snapshot-store.js';

/**
 * Options of a SqliteSnapshotStore.
 *
 * @example
 * ```ts
 * const store = new SqliteSnapshotStore({ path: 'data/genesis.db', durability: 'power' });
 * ```
 */
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

/** SQL, or a step that needs code. Runs inside the exclusive migration transaction. */
type Migration = string | ((db: Database.Database) => void);

/** MIGRATIONS[i] upgrades a file from schema version i to i + 1. Append only; never edit one. */
const MIGRATIONS: readonly Migration[] = [
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
  // 2: the checksum covers the whole row, not only data. A row whose version-1 checksum (CRC32 of
  // data) holds is resealed with the row checksum; any other row keeps its old checksum, which the
  // new check refuses, so it stays corrupt. (Damage to path or seq before this migration cannot be
  // told apart from the real values: that is what version 1 could not see.)
  (db) => {
    db.function('genesis_reseal_v1', { deterministic: true }, (path, holder, seq, takenAt, version, codec, checksum, data) => {
      if (!(data instanceof Uint8Array) || crc32(data) !== checksum) return checksum;
      const row = { path, holder: holder === '' ? null : holder, seq, takenAt, version, codec, checksum, data } as SnapshotRow;
      return rowProblem(row) === undefined ? rowChecksum(row) : checksum;
    });
    db.exec('UPDATE snapshots SET checksum = genesis_reseal_v1(path, holder, seq, taken_at, version, codec, checksum, data)');
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The snapshots table as every schema version so far has it: column name and declared type. */
const TABLE = ['path TEXT', 'holder TEXT', 'seq INTEGER', 'taken_at INTEGER', 'version INTEGER', 'codec TEXT', 'checksum INTEGER', 'data BLOB'];

const PAGE_SIZE = 16384;
/** Pages in the WAL before a checkpoint (64 MB), and the size a checkpoint trims it back to. */
const WAL_AUTOCHECKPOINT = 4000;
const JOURNAL_SIZE_LIMIT = 64 * 2 ** 20;
/** Page cache, in KiB (negative = KiB for SQLite). */
const CACHE_KIB = 32 * 1024;
/** Only for statements after the lock is ours; no other connection can be waiting by then. */
const BUSY_TIMEOUT_MS = 5000;

const COLUMNS = 'path, holder, seq, taken_at, version, codec, checksum, data';
/** Rows retention orders: seq a safe integer. A range on the index, plus the type for 1.5. */
const GOOD_SEQ = `seq BETWEEN 0 AND ${Number.MAX_SAFE_INTEGER} AND typeof(seq) = 'integer'`;
type RawRow = [string, string, number, number, number, string, number, Uint8Array];

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The default SnapshotStore: one SQLite file (WAL, group commit), locked by this store until
 * `close()`. Throws StoreLockedError when another store has the file, NotASnapshotStoreError for
 * a database another application wrote, ConfigError for a bad path.
 *
 * @example
 * ```ts
 * const store = new SqliteSnapshotStore({ path: 'data/genesis.db' });
 * const system = await ActorSystem.start({ store });   // like store: 'data/genesis.db'
 * ```
 */
export class SqliteSnapshotStore implements SnapshotStore {
  readonly path: string;
  readonly durability: 'process' | 'power';
  onCorrupt: ((row: SkippedRow) => void) | undefined = undefined;
  private readonly db: Database.Database;
  private closed = false;
  /** Well-typed rows per (path, holder), counted on first write; see the file comment. */
  private readonly counts = new Map<string, number>();

  private readonly insert: Database.Statement<[string, string, number, number, number, string, number, Uint8Array]>;
  private readonly overwrite: Database.Statement<[number, number, number, string, number, Uint8Array, number]>;
  private readonly remove: Database.Statement<[number]>;
  private readonly newestSeq: Database.Statement<[string, string], number>;
  private readonly rowidOf: Database.Statement<[string, string, number], number>;
  private readonly countNewer: Database.Statement<[string, string, number, number], number>;
  private readonly countRows: Database.Statement<[string, string], number>;
  private readonly oldest: Database.Statement<[string, string], number>;
  private readonly oldestFirst: Database.Statement<[string, string], number>;
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
    if (!inMemory) prepareFolder(path);

    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new ConfigError('store', `${path}: SQLite cannot open it (${(error as Error).message})`);
    }
    try {
      db.pragma('busy_timeout = 0'); // a file owned by another store: fail now, not in 5 s
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma(`page_size = ${PAGE_SIZE}`); // takes effect on a new file only
      checkSchema(db, path); // before WAL: a foreign file is left exactly as it was
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!inMemory && mode !== 'wal') throw new ConfigError('store', `${path}: SQLite could not switch it to WAL (journal mode is ${String(mode)})`);
      migrate(db, path); // BEGIN EXCLUSIVE: the lock is ours from here until close()
      db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.pragma(`cache_size = ${-CACHE_KIB}`);
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);

      // Retention: each a seek at one end of a (path, holder) range of the index.
      this.insert = db.prepare(`INSERT INTO snapshots (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      this.overwrite = db.prepare('UPDATE snapshots SET seq = ?, taken_at = ?, version = ?, codec = ?, checksum = ?, data = ? WHERE rowid = ?');
      this.remove = db.prepare('DELETE FROM snapshots WHERE rowid = ?');
      this.newestSeq = db.prepare<[string, string], number>(`SELECT seq FROM snapshots WHERE path = ? AND holder = ? AND ${GOOD_SEQ} ORDER BY seq DESC LIMIT 1`).pluck();
      this.rowidOf = db.prepare<[string, string, number], number>('SELECT rowid FROM snapshots WHERE path = ? AND holder = ? AND seq = ?').pluck();
      // Only when the new row is not the newest; stops after `keep` (beyond that it falls out anyway).
      this.countNewer = db
        .prepare<[string, string, number, number], number>(
          `SELECT count(*) FROM (SELECT 1 FROM snapshots WHERE path = ? AND holder = ? AND seq > ? AND ${GOOD_SEQ} LIMIT ?)`,
        )
        .pluck();
      this.countRows = db.prepare<[string, string], number>(`SELECT count(*) FROM snapshots WHERE path = ? AND holder = ? AND ${GOOD_SEQ}`).pluck();
      this.oldest = db.prepare<[string, string], number>(`SELECT rowid FROM snapshots WHERE path = ? AND holder = ? AND ${GOOD_SEQ} ORDER BY seq LIMIT 1`).pluck();
      this.oldestFirst = db.prepare<[string, string], number>(`SELECT rowid FROM snapshots WHERE path = ? AND holder = ? AND ${GOOD_SEQ} ORDER BY seq`).pluck();
      // Reads take every row and check its types in toRow, so a damaged one is reported, not lost
      // silently. No `LIMIT ?`: a bound limit measured 2–3× slower than a literal one (or none) here.
      this.selectLatest = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' ORDER BY seq DESC LIMIT 1`).raw();
      this.selectOwn = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' ORDER BY seq DESC`).raw();
      this.selectReplicas = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder > '' ORDER BY seq DESC, holder`).raw();
      this.selectOne = db.prepare<[string, number], RawRow>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' AND seq = ?`).raw();
      this.selectMaxSeq = db.prepare<[string], number | null>(`SELECT max(seq) FROM snapshots WHERE path = ? AND ${GOOD_SEQ}`).pluck();
      // A skip scan over the index: one seek per path, never a read of the rows themselves. Text
      // paths only (a blob sorts after all text: x'' is the least blob).
      this.nextPath = db.prepare<[string], string>("SELECT path FROM snapshots WHERE path > ? AND path < x'' AND holder = '' ORDER BY path LIMIT 1").pluck();
      this.write = db.transaction((rows: SnapshotRow[], keepByPath: ReadonlyMap<string, number> | undefined) => {
        for (let i = 0; i < rows.length; i++) this.put(rows[i]!, keepByPath);
      });
    } catch (error) {
      db.close(); // whatever went wrong, the file is let go
      const code = sqliteCode(error);
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreLockedError(path);
      if (code === 'SQLITE_NOTADB') throw new ConfigError('store', `${path} is not a SQLite database`);
      throw error;
    }
    this.db = db;
  }

  writeBatch(rows: SnapshotRow[], keepByPath?: ReadonlyMap<string, number>): void {
    this.check();
    if (rows.length === 0) return;
    try {
      this.write(rows, keepByPath);
    } catch (error) {
      this.counts.clear(); // rolled back: the counts may include rows that are not there
      throw error;
    }
  }

  own(path: string, limit?: number): SnapshotRow[] {
    this.check();
    const n = limit === undefined || limit === Infinity ? Infinity : Math.max(0, Math.trunc(limit));
    const rows: SnapshotRow[] = [];
    if (n === 0) return rows;
    if (n === 1) {
      const raw = this.selectLatest.get(path); // the restore path
      const row = raw === undefined ? undefined : this.toRow(raw, false);
      if (row !== null) return row === undefined ? rows : [row];
      // the newest row is damaged: the loop below reports it and goes on past it
    }
    for (const raw of this.selectOwn.iterate(path)) {
      const row = this.toRow(raw, true);
      if (row !== null) rows.push(row);
      if (rows.length === n) break;
    }
    return rows;
  }

  replicas(path: string): SnapshotRow[] {
    this.check();
    const rows: SnapshotRow[] = [];
    for (const raw of this.selectReplicas.all(path)) {
      const row = this.toRow(raw, true);
      if (row !== null) rows.push(row);
    }
    return rows;
  }

  get(path: string, seq: number): SnapshotRow | undefined {
    this.check();
    const raw = this.selectOne.get(path, seq);
    return raw === undefined ? undefined : (this.toRow(raw, true) ?? undefined);
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

  /** The row, or null (reported when `report`) when a column does not have its type. */
  private toRow(raw: RawRow, report: boolean): SnapshotRow | null {
    const row: SnapshotRow = {
      path: raw[0],
      holder: raw[1] === '' ? null : raw[1],
      seq: raw[2],
      takenAt: raw[3],
      version: raw[4],
      codec: raw[5],
      checksum: raw[6],
      data: raw[7],
    };
    const why = rowProblem(row);
    if (why === undefined) return row;
    if (report) this.onCorrupt?.({ path: String(row.path), holder: row.holder === null ? null : String(row.holder), seq: row.seq, why });
    return null;
  }

  /**
   * Writes one row inside the batch's transaction and applies retention to its (path, holder):
   * the newest `keep` own rows, or the newest replica. Same result as INSERT then DELETE of what
   * falls out, but a row that falls out is overwritten by the new one when there is one. Index
   * seeks only: the newest seq, the oldest rowid, and a count bounded by `keep` when the new row
   * is not the newest.
   */
  private put(row: SnapshotRow, keepByPath: ReadonlyMap<string, number> | undefined): void {
    checkRow(row); // inside the transaction: a bad row rolls back the whole batch
    const holder = row.holder ?? '';
    const keep = row.holder === null ? keepOf(row.path, keepByPath) : 1;
    const key = `${row.path.length}:${row.path}${holder}`;
    let count = this.counts.get(key) ?? this.countRows.get(row.path, holder)!;
    const newest = this.newestSeq.get(row.path, holder);
    const isNewest = newest === undefined || newest < row.seq;
    const newer = isNewest ? 0 : this.countNewer.get(row.path, holder, row.seq, keep)!; // its place, newest first
    const same = isNewest ? undefined : this.rowidOf.get(row.path, holder, row.seq);
    if (same !== undefined) {
      // Same seq again: replace it where it is, if it is kept at all (else it is trimmed below).
      if (newer < keep) this.overwrite.run(row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data, same);
    } else if (newer < keep) {
      if (count >= keep) {
        // The new row pushes the oldest out: it takes that row's place.
        this.overwrite.run(row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data, this.oldest.get(row.path, holder)!);
      } else {
        this.insert.run(row.path, holder, row.seq, row.takenAt, row.version, row.codec, row.checksum, row.data);
        count++;
      }
    } // else: older than every kept row, it would fall out at once: nothing to write
    if (count > keep) {
      // More than kept (keep was lowered, or a same-seq row fell out): drop the oldest.
      const victims: number[] = [];
      for (const rowid of this.oldestFirst.iterate(row.path, holder)) {
        victims.push(rowid);
        if (victims.length === count - keep) break;
      }
      for (const rowid of victims) this.remove.run(rowid);
      count = keep;
    }
    this.counts.set(key, count);
  }
}

/**
 * Creates the file's folder. A path that is a folder, or that runs through a regular file, is a
 * ConfigError naming the store option, the path and why (not ENOTDIR from deep inside).
 */
function prepareFolder(path: string): void {
  const file = resolve(path);
  if (kindOf(file) === 'directory') {
    throw new ConfigError('store', `${path} is a directory; the store is a file (e.g. ${join(path, 'genesis.db')})`);
  }
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (error) {
    let blocker = dirname(file); // the nearest ancestor that exists
    while (dirname(blocker) !== blocker && kindOf(blocker) === undefined) blocker = dirname(blocker);
    const why = kindOf(blocker) === 'file' ? `${blocker} is a file, not a directory` : `${dirname(file)} cannot be created (${(error as Error).message})`;
    throw new ConfigError('store', `${path}: ${why}`);
  }
}

/** What is at `path`: undefined when nothing is, or when a part of the way is not a folder. */
function kindOf(path: string): 'file' | 'directory' | undefined {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
}

/** Names of the schema objects in the file, other than SQLite's own. */
function schemaObjects(db: Database.Database): string[] {
  return db.prepare<[], string>("SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all();
}

/**
 * Refuses a file this store did not write: NotASnapshotStoreError, or ConfigError for a newer
 * schema version. An empty file (version 0, no tables) is fine: migrate creates the schema.
 */
function checkSchema(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = schemaObjects(db);
  if (version === 0 && objects.length === 0) return;
  const columns = db.prepare<[], string>("SELECT name || ' ' || upper(type) FROM pragma_table_info('snapshots')").pluck().all();
  const holds = objects.length === 0 ? 'no tables' : objects.join(', ');
  if (columns.length === 0) throw new NotASnapshotStoreError(path, `it has no snapshots table (it holds ${holds}; user_version ${version})`);
  if (version === 0) throw new NotASnapshotStoreError(path, `it holds ${holds} but no snapshot schema version (user_version 0)`);
  if (version > SCHEMA_VERSION) {
    throw new ConfigError('store', `${path} has snapshot schema version ${version}, newer than this code's ${SCHEMA_VERSION}: written by a newer Genesis`);
  }
  if (columns.join(', ') !== TABLE.join(', ')) {
    throw new NotASnapshotStoreError(path, `its snapshots table has the columns (${columns.join(', ')}), not (${TABLE.join(', ')})`);
  }
  const key = db.prepare<[], string>("SELECT name FROM pragma_index_info('snapshots_key') ORDER BY seqno").pluck().all();
  const unique = db.prepare<[], number>("SELECT \"unique\" FROM pragma_index_list('snapshots') WHERE name = 'snapshots_key'").pluck().get();
  if (key.join(',') !== 'path,holder,seq' || unique !== 1) {
    throw new NotASnapshotStoreError(path, 'its snapshots table lacks the unique index snapshots_key on (path, holder, seq)');
  }
}

/** Brings the file to SCHEMA_VERSION inside one exclusive transaction, which takes the lock. */
function migrate(db: Database.Database, path: string): void {
  db.exec('BEGIN EXCLUSIVE');
  try {
    checkSchema(db, path); // again, under the lock
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v]!;
      if (typeof step === 'string') db.exec(step);
      else step(db);
    }
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
