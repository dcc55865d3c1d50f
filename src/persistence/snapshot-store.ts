/**
 * Where snapshots live. A snapshot row is one encoded copy of one actor's state: its own copy
 * (`holder` null) or a replica held by a partner (`holder` = the partner's path).
 *
 * The runtime batches the snapshots taken within one scheduler tick and hands them to
 * `writeBatch` together: one transaction (group commit). Decoding and checksum checks happen
 * in the codec (src/snapshot-codec.ts), not here: a store returns rows as they are stored, so a
 * corrupt row is skipped by the reader, never a crash of the store. The one exception is a row
 * whose columns do not even have their types (a seq that is text, 1.5 or beyond 2^53, data that
 * is text): the store leaves it out of every read and reports it through `onCorrupt`, and one it
 * cannot order (a bad seq) is out of retention too — one damaged row never stops the store
 * serving or writing the others.
 */

/**
 * One stored snapshot: an actor's encoded state and the columns the checksum covers.
 *
 * @example
 * ```ts
 * const [latest] = store.own('/portfolio', 1);   // latest?.seq, latest?.takenAt, latest?.data
 * ```
 */
export interface SnapshotRow {
  /** Path of the actor whose state this is. */
  path: string;
  /** null for the actor's own snapshot; the partner's path for a replica. */
  holder: string | null;
  /** Per-actor sequence number, increasing across restarts and processes. */
  seq: number;
  /** Wall-clock time the snapshot was taken (ms since the epoch). */
  takenAt: number;
  /** The behavior's `version` when it was taken. */
  version: number;
  /** Encoding of `data`, e.g. 'msgpackr/1'. */
  codec: string;
  /** CRC32 of `data`, continued over path, holder, seq, takenAt, version and codec (rowChecksum). */
  checksum: number;
  data: Uint8Array;
}

/**
 * A stored row a read left out because a column has the wrong type.
 *
 * @example
 * ```ts
 * store.onCorrupt = (row: SkippedRow) => console.warn(`${row.path} seq ${String(row.seq)}: ${row.why}`);
 * ```
 */
export interface SkippedRow {
  path: string;
  /** null for an own row. */
  holder: string | null;
  /** As stored: possibly text, a fraction, or a number beyond 2^53. */
  seq: unknown;
  why: string;
}

/**
 * Where snapshots live: implement it to keep them elsewhere, and pass an instance as the
 * system's `store`. SqliteSnapshotStore and MemorySnapshotStore are the two given.
 *
 * @example
 * ```ts
 * const store: SnapshotStore = new MemorySnapshotStore();
 * const system = await ActorSystem.start({ store });
 * ```
 */
export interface SnapshotStore {
  /**
   * Set by the runtime when it opens the store: called for each stored row a read leaves out
   * because a column has the wrong type (see SkippedRow), each time a read meets it.
   */
  onCorrupt?: ((row: SkippedRow) => void) | undefined;
  /**
   * Writes all rows in one transaction, then applies retention: per actor, the newest `keep`
   * own rows (keep from `keepByPath`, default 3); per (holder, path), the newest replica only.
   */
  writeBatch(rows: SnapshotRow[], keepByPath?: ReadonlyMap<string, number>): void;
  /** Own snapshots of `path`, newest (highest seq) first, at most `limit`. */
  own(path: string, limit?: number): SnapshotRow[];
  /** Replicas of `path` held by any partner, newest first. */
  replicas(path: string): SnapshotRow[];
  /** The own snapshot of `path` with this seq. */
  get(path: string, seq: number): SnapshotRow | undefined;
  /** Highest seq stored for `path` (own or replica, well-typed rows only), 0 if none. */
  maxSeq(path: string): number;
  /** Paths that have own snapshots. */
  paths(): string[];
  /** Releases the store (the system does it at shutdown); reads and writes then throw. */
  close(): void;
}
