/**
 * Where snapshots live. A snapshot row is one encoded copy of one actor's state: its own copy
 * (`holder` null) or a replica held by a partner (`holder` = the partner's path).
 *
 * The runtime batches the snapshots taken within one scheduler tick and hands them to
 * `writeBatch` together: one transaction (group commit). Decoding and checksum checks happen
 * in the codec (src/snapshot-codec.ts), not here: a store returns rows as they are stored, so a
 * corrupt row is skipped by the reader, never a crash of the store.
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
  /** CRC32 of `data`. */
  checksum: number;
  data: Uint8Array;
}

export interface SnapshotStore {
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
  /** Highest seq stored for `path` (own or replica), 0 if none. */
  maxSeq(path: string): number;
  /** Paths that have own snapshots. */
  paths(): string[];
  close(): void;
}
