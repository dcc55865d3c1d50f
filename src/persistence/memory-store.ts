/**
 * A SnapshotStore in memory: the same behaviour and retention as SqliteSnapshotStore, without a
 * file. For tests, and for systems that want partners' replicas without persistence.
 *
 * Rows are copied in (`data` too), and copied out on every read, so neither the writer nor a
 * reader can change a stored row afterwards. Also home of the row and retention checks both
 * stores share.
 */
import { ConfigError, GenesisError } from '../util/errors.js';
import type { SnapshotRow, SnapshotStore } from './snapshot-store.js';

/** Own rows kept per actor when `keepByPath` does not name it. */
export const DEFAULT_KEEP = 3;

const show = (got: unknown) => (typeof got === 'string' ? `'${got}'` : got instanceof Uint8Array ? 'bytes' : String(got));

/**
 * What is wrong with the types of a row's columns, or undefined when every column has its type.
 * Used on rows written (a programming error: checkRow) and on rows read back (damage: a store
 * skips and reports them, decodeRow refuses them).
 */
export function rowProblem(row: SnapshotRow): string | undefined {
  if (row === null || typeof row !== 'object') return `the row must be an object, got ${show(row)}`;
  if (typeof row.path !== 'string' || row.path === '') return `path must be a non-empty string, got ${show(row.path)}`;
  if (row.holder !== null && (typeof row.holder !== 'string' || row.holder === '')) return `holder must be null or a non-empty string, got ${show(row.holder)}`;
  if (!Number.isSafeInteger(row.seq) || row.seq < 0) return `seq must be a non-negative safe integer, got ${show(row.seq)}`;
  if (typeof row.takenAt !== 'number' || !Number.isFinite(row.takenAt)) return `takenAt must be a finite number, got ${show(row.takenAt)}`;
  if (!Number.isSafeInteger(row.version)) return `version must be a safe integer, got ${show(row.version)}`;
  if (typeof row.codec !== 'string') return `codec must be a string, got ${show(row.codec)}`;
  if (!Number.isInteger(row.checksum) || row.checksum < 0 || row.checksum > 0xffffffff) return `checksum must be an unsigned 32-bit integer, got ${show(row.checksum)}`;
  if (!(row.data instanceof Uint8Array)) return `data must be a Uint8Array, got ${show(row.data)}`;
  return undefined;
}

/** Throws TypeError unless `row` is a well-formed SnapshotRow (a programming error, not data). */
export function checkRow(row: SnapshotRow): void {
  const problem = rowProblem(row);
  if (problem === undefined) return;
  const at = typeof row?.path === 'string' ? ` of ${row.path}` : '';
  throw new TypeError(`invalid snapshot row${at}: ${problem}`);
}

/** Own rows to keep for `path`: from `keepByPath`, else DEFAULT_KEEP; ConfigError if not ≥ 1. */
export function keepOf(path: string, keepByPath: ReadonlyMap<string, number> | undefined): number {
  const keep = keepByPath?.get(path);
  if (keep === undefined) return DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 1) throw new ConfigError('snapshot.keep', `${keep} for ${path}: must be an integer ≥ 1`);
  return keep;
}

/** The error of every call on a closed store. */
export function storeClosed(name: string): GenesisError {
  return new GenesisError('STORE_CLOSED', `snapshot store ${name} is closed`);
}

function copy(row: SnapshotRow): SnapshotRow {
  return {
    path: row.path,
    holder: row.holder,
    seq: row.seq,
    takenAt: row.takenAt,
    version: row.version,
    codec: row.codec,
    checksum: row.checksum,
    data: new Uint8Array(row.data),
  };
}

interface Entry {
  /** Own rows, newest (highest seq) first, at most the path's keep. */
  own: SnapshotRow[];
  /** The newest replica held by each partner. */
  replicas: Map<string, SnapshotRow>;
}

/**
 * A SnapshotStore in memory, with the SQLite store's behaviour and retention: for tests, and for
 * partners' replicas without persistence.
 *
 * @example
 * ```ts
 * const system = await ActorSystem.start({ store: new MemorySnapshotStore() });
 * ```
 */
export class MemorySnapshotStore implements SnapshotStore {
  private entries: Map<string, Entry> | null = new Map();

  writeBatch(rows: SnapshotRow[], keepByPath?: ReadonlyMap<string, number>): void {
    const entries = this.open();
    // Check everything first: a batch is all or nothing, as in the SQLite store.
    const keeps = new Map<string, number>();
    for (const row of rows) {
      checkRow(row);
      if (row.holder === null && !keeps.has(row.path)) keeps.set(row.path, keepOf(row.path, keepByPath));
    }
    for (const row of rows) {
      let entry = entries.get(row.path);
      if (entry === undefined) entries.set(row.path, (entry = { own: [], replicas: new Map() }));
      const stored = copy(row);
      if (row.holder !== null) {
        const current = entry.replicas.get(row.holder);
        if (current === undefined || current.seq <= row.seq) entry.replicas.set(row.holder, stored);
        continue;
      }
      const own = entry.own;
      let i = 0;
      while (i < own.length && own[i]!.seq > row.seq) i++;
      if (i < own.length && own[i]!.seq === row.seq) own[i] = stored;
      else own.splice(i, 0, stored);
      const keep = keeps.get(row.path)!;
      if (own.length > keep) own.length = keep;
    }
  }

  own(path: string, limit?: number): SnapshotRow[] {
    const own = this.open().get(path)?.own;
    if (own === undefined) return [];
    const end = limit === undefined ? own.length : Math.max(0, Math.trunc(limit));
    return own.slice(0, end).map(copy);
  }

  replicas(path: string): SnapshotRow[] {
    const replicas = this.open().get(path)?.replicas;
    if (replicas === undefined) return [];
    return [...replicas.values()].sort((a, b) => b.seq - a.seq || (a.holder! < b.holder! ? -1 : 1)).map(copy);
  }

  get(path: string, seq: number): SnapshotRow | undefined {
    const row = this.open()
      .get(path)
      ?.own.find((r) => r.seq === seq);
    return row === undefined ? undefined : copy(row);
  }

  maxSeq(path: string): number {
    const entry = this.open().get(path);
    if (entry === undefined) return 0;
    let max = entry.own[0]?.seq ?? 0;
    for (const row of entry.replicas.values()) if (row.seq > max) max = row.seq;
    return max;
  }

  paths(): string[] {
    const paths: string[] = [];
    for (const [path, entry] of this.open()) if (entry.own.length > 0) paths.push(path);
    return paths.sort();
  }

  close(): void {
    this.entries = null;
  }

  private open(): Map<string, Entry> {
    if (this.entries === null) throw storeClosed('in memory');
    return this.entries;
  }
}
