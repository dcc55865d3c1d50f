/**
 * Snapshots of actor state: when to take them, group commit, replicas held by partners, and
 * restore on start and restart.
 *
 * - An actor with `snapshot: { everyMessages, everyMs, keep }` and/or `partners: [path…]` gets a
 *   SnapshotSlot. A snapshot is taken after the handler that triggered it (so it holds the new
 *   state), encoded at once (later mutations cannot leak into it), and queued.
 * - Every snapshot requested within one event-loop turn is written in one transaction (group
 *   commit), together with a replica row per partner; each live partner also keeps the newest
 *   copy in memory for instant restore.
 * - After every init, the actor's state becomes the newest valid copy among its own rows, the
 *   persisted replicas and the partners' memory. A corrupt copy (checksum, decoding, a version
 *   newer than the code) is logged, counted and skipped for the next older one — never a crash.
 *   So is a stored row the store cannot even order (a column of the wrong type): the store leaves
 *   it out and reports it here.
 * - A row is checked before it joins a group commit, so one actor's bad row fails that actor's
 *   snapshot alone, never the batch of every other actor.
 * - A checkpoint is bounded: actors that cannot be snapshotted in time (a handler that never
 *   settles) are named in its outcome; the others are committed all the same.
 */
import { ActorCell } from '../core/cell.js';
import type { LifecycleHooks } from '../core/runtime.js';
import { DEFAULT_KEEP, type SnapshotConfig } from '../core/spec.js';
import type { ActorRef } from '../core/ref.js';
import { type Clock, unrefTimer } from '../util/clock.js';
import type { Logger } from 'pino';
import { ConfigError, SnapshotCorruptError } from '../util/errors.js';
import { rowProblem } from './memory-store.js';
import { type RemotePartner, RemotePartners, type ReplicaTransport, splitPartners } from './remote-partners.js';
import { decodeRow, type EncodedState, encodeState, sealRow } from './snapshot-codec.js';
import type { SnapshotRow, SnapshotStore } from './snapshot-store.js';

/**
 * One snapshot of an actor, as `system.snapshots(path)` lists it.
 *
 * @example
 * ```ts
 * const replicas = system.snapshots('/portfolio').filter((info) => info.source !== 'own');
 * ```
 */
export interface SnapshotInfo {
  seq: number;
  /** Wall-clock time it was taken (ms since the epoch). */
  takenAt: number;
  /** Bytes of encoded state. */
  size: number;
  /** The behavior's `version` that wrote it. */
  version: number;
  /** The actor's own row, a partner's persisted replica, or the copy a live partner holds in memory. */
  source: 'own' | 'replica' | 'partner-memory';
  /** The partner holding a replica. */
  holder?: string;
}

/** What snapshots need of the system: time, a log, and partners found by path. */
export interface SnapshotsHost {
  readonly clock: Clock;
  readonly log: Logger;
  lookup(path: string): ActorRef | undefined;
}

/** The snapshot bookkeeping of one actor: the lifecycle hooks its cell calls. */
export class SnapshotSlot implements LifecycleHooks {
  seq = 0;
  sinceLast = 0;
  /** Take a snapshot once the handler in progress has finished. */
  wanted = false;
  timer: unknown = null;
  waiters: Array<(seq: number) => void> | null = null;
  /** Why the last snapshot that settled with -1 was not taken (for a checkpoint's outcome). */
  failure = '';

  /** Copies fetched from the remote partners' nodes: restore candidates until its own first snapshot is committed. */
  fetched: Array<{ node: string; row: SnapshotRow }> | null = null;
  /** The fetch in progress (restarts meanwhile wait for it), and whether one was made. */
  fetching: Promise<void> | null = null;
  fetchedOnce = false;

  constructor(
    private readonly owner: Snapshots,
    readonly cell: ActorCell,
    readonly config: SnapshotConfig | null,
    /** Partners on this node (paths). */
    readonly partners: readonly string[],
    readonly remotePartners: readonly RemotePartner[],
  ) {}

  beforeInit(): Promise<void> | undefined {
    return this.owner.prefetch(this.cell, this);
  }

  afterInit(): void {
    this.owner.restore(this.cell);
  }

  afterHandler(): void {
    this.owner.afterHandler(this.cell, this);
  }

  handlerAbandoned(): void {
    this.owner.abandon(this);
  }

  stopped(): void {
    this.owner.detach(this.cell);
  }

  snapshotNow(): Promise<number> {
    return this.owner.request(this.cell, this);
  }
}

/** The snapshot slot of a cell spawned with `snapshot` or `partners`. */
export function slotOf(cell: ActorCell): SnapshotSlot {
  return cell.hooks as SnapshotSlot;
}

/**
 * Snapshot counters since start, in `system.metrics().snapshots`.
 *
 * @example
 * ```ts
 * const { written, corrupt, restoreFailures } = system.metrics().snapshots;
 * ```
 */
export interface SnapshotMetrics {
  /** Rows committed, partners' replicas included. */
  written: number;
  /** Snapshots that could not be encoded or written. */
  failed: number;
  /** Copies skipped at restore: bad checksum or types, undecodable, or from a newer version. */
  corrupt: number;
  /** Restores that found a valid copy. */
  restored: number;
  /** Restores that had copies but no valid one: the state stayed init's. */
  restoreFailures: number;
  /** Replica rows sent to partners on other nodes. */
  replicasSent: number;
  /** Replica rows received from other nodes and kept. */
  replicasReceived: number;
  /** Replica rows from other nodes refused for their shape. */
  replicasRefused: number;
}

/** What a checkpoint did: seqs of the snapshots committed, and why the others were not taken. */
export interface CheckpointOutcome {
  seqs: Record<string, number>;
  missed: Record<string, string>;
}

export class Snapshots {
  private store: SnapshotStore | null = null;
  private pending: SnapshotRow[] = [];
  private readonly keep = new Map<string, number>();
  private commitWaiters: Array<{ resolve: (seq: number) => void; seq: number; slot: SnapshotSlot }> = [];
  private flushScheduled = false;
  private closed = false;
  /** Seq of the newest snapshot this process took, per path. */
  private readonly newest = new Map<string, number>();
  /** When (system clock) this process last took a snapshot, per path. */
  private readonly lastTaken = new Map<string, number>();
  /** Copies held in memory by partners: holder → (source path → newest row). */
  private readonly held = new WeakMap<ActorCell, Map<string, SnapshotRow>>();
  readonly metrics: SnapshotMetrics = { written: 0, failed: 0, corrupt: 0, restored: 0, restoreFailures: 0, replicasSent: 0, replicasReceived: 0, replicasRefused: 0 };
  /** Partners on other nodes: replicas sent, held and fetched. */
  private readonly remote: RemotePartners;

  constructor(
    private readonly system: SnapshotsHost,
    private readonly openStore: (() => SnapshotStore) | null,
  ) {
    this.remote = new RemotePartners(system.log);
  }

  /** Joins the cluster's transport: partners on other nodes work from now on. */
  connect(transport: ReplicaTransport | null): void {
    this.remote.transport = transport;
  }

  /** The store, opened on first use (a system that never snapshots creates no file). */
  private storeOrThrow(): SnapshotStore {
    if (this.store !== null) return this.store;
    if (this.closed) throw new ConfigError('store', 'the snapshot store is closed (the system has shut down)');
    if (this.openStore === null) throw new ConfigError('store', 'snapshots need a store, but the system was started with store: false');
    const store = this.openStore();
    // Rows the store cannot even order are corrupt like any other: logged, counted, skipped.
    store.onCorrupt = (row) => {
      this.metrics.corrupt++;
      this.system.log.error({ path: row.path, holder: row.holder ?? undefined, seq: String(row.seq), why: row.why }, `skipped a damaged snapshot row of ${row.path}`);
    };
    return (this.store = store);
  }

  /** Opens the store now (for an explicit store option: errors surface at start). */
  open(): void {
    this.storeOrThrow();
  }

  /** Milliseconds since this process last took a snapshot of `path` (null: none yet). */
  ageMs(path: string): number | null {
    const at = this.lastTaken.get(path);
    return at === undefined ? null : this.system.clock.now() - at;
  }

  /** Called when a snapshotting actor is spawned. */
  attach(cell: ActorCell, config: SnapshotConfig | null, partners: readonly string[]): SnapshotSlot {
    const { local, remote } = splitPartners(partners, this.remote.transport?.node);
    if (remote.length > 0 && this.remote.transport === null) {
      throw new ConfigError(
        'partners',
        `'${remote[0]!.node}:${remote[0]!.path}' is on another node, but this system is not in a cluster (ActorSystem.start({ cluster }))`,
      );
    }
    this.storeOrThrow();
    const slot = new SnapshotSlot(this, cell, config, local, remote);
    if (config !== null) this.keep.set(cell.path, config.keep);
    if (config !== null && config.everyMs > 0) this.armTimer(cell, slot, config.everyMs);
    return slot;
  }

  private armTimer(cell: ActorCell, slot: SnapshotSlot, ms: number): void {
    slot.timer = this.system.clock.setTimeout(() => {
      slot.timer = null;
      if (!cell.isAlive) return;
      if (cell.inHandler) slot.wanted = true;
      else if (cell.isRunning) void this.take(cell);
      this.armTimer(cell, slot, ms);
    }, ms);
    unrefTimer(slot.timer); // the interval never holds a host's event loop open
  }

  /** Called after every handler of a snapshotting actor. */
  afterHandler(cell: ActorCell, slot: SnapshotSlot): void {
    slot.sinceLast++;
    const every = slot.config?.everyMessages ?? 0;
    if (slot.wanted || (every > 0 && slot.sinceLast >= every)) void this.take(cell);
  }

  /** ctx.snapshotNow(): now, or right after the handler in progress (so it holds the new state). */
  request(cell: ActorCell, slot: SnapshotSlot): Promise<number> {
    if (!cell.inHandler) return this.take(cell);
    slot.wanted = true;
    return new Promise((resolve) => (slot.waiters ??= []).push(resolve));
  }

  /** Encodes the current state, queues own + replica rows; resolves with the seq once committed. */
  take(cell: ActorCell): Promise<number> {
    const slot = slotOf(cell);
    slot.wanted = false;
    slot.sinceLast = 0;
    let row: SnapshotRow;
    let encoded: EncodedState;
    try {
      encoded = encodeState(cell.state);
      row = sealRow({ path: cell.path, holder: null, seq: slot.seq + 1, takenAt: Date.now(), version: cell.behavior.version }, encoded);
      // Checked here, not in the batch: a bad row would roll back every actor's snapshot with it.
      const problem = rowProblem(row);
      if (problem !== undefined) throw new TypeError(`invalid snapshot row: ${problem}`);
    } catch (error) {
      // An unencodable state (a cycle, a symbol) is the actor's bug, reported, not a crash.
      this.metrics.failed++;
      cell.log.error({ err: error }, `cannot snapshot ${cell.path}`);
      slot.failure = `its state cannot be snapshotted: ${(error as Error).message}`;
      this.settleWaiters(slot, -1);
      return Promise.resolve(-1);
    }
    slot.seq = row.seq;
    this.pending.push(row);
    this.newest.set(row.path, row.seq);
    this.lastTaken.set(row.path, this.system.clock.now());
    for (const partner of slot.partners) {
      this.pending.push(sealRow({ ...row, holder: partner }, encoded)); // same data, own checksum
      this.copiesHeldBy(partner, true)?.set(cell.path, row);
    }
    for (const partner of slot.remotePartners) this.remote.queue(partner.node, sealRow({ ...row, holder: partner.path }, encoded));
    const promise = new Promise<number>((resolve) => this.commitWaiters.push({ resolve, seq: row.seq, slot }));
    const waiters = slot.waiters; // those who asked for exactly this snapshot
    slot.waiters = null;
    if (waiters !== null) {
      void promise.then((seq) => {
        for (const w of waiters) w(seq);
      });
    }
    this.scheduleFlush();
    return promise;
  }

  /** The handler that asked for a snapshot failed or was killed: it will not be taken. */
  abandon(slot: SnapshotSlot, why = 'the handler it waited for failed or was killed'): void {
    slot.wanted = false;
    if (slot.waiters !== null) slot.failure = why;
    this.settleWaiters(slot, -1);
  }

  private settleWaiters(slot: SnapshotSlot, seq: number): void {
    const waiters = slot.waiters;
    slot.waiters = null;
    if (waiters !== null) for (const w of waiters) w(seq);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /** Group commit: everything queued this turn, in one transaction; then the replicas for other nodes go. */
  readonly flush = (): void => {
    this.flushScheduled = false;
    this.metrics.replicasSent += this.remote.flush();
    if (this.pending.length === 0) return;
    const rows = this.pending;
    const waiters = this.commitWaiters;
    this.pending = [];
    this.commitWaiters = [];
    try {
      this.storeOrThrow().writeBatch(rows, this.keep);
      this.metrics.written += rows.length;
      for (const w of waiters) {
        w.slot.fetched = null; // its own snapshot is committed: newer than any copy fetched
        w.resolve(w.seq);
      }
    } catch (error) {
      // A failed write loses no running state; the actors keep going and try again next time.
      this.metrics.failed += rows.length;
      this.system.log.error({ err: error, rows: rows.length }, 'snapshot write failed');
      for (const w of waiters) {
        w.slot.failure = `the store write failed: ${(error as Error).message}`;
        w.resolve(-1);
      }
    }
  };

  /** After init: the newest valid copy among own rows, replicas and partners' memory. */
  restore(cell: ActorCell): void {
    const slot = slotOf(cell);
    // Fast path: this process took the path's newest snapshot (the store is locked to this
    // process, so nothing newer can exist) and a live partner holds exactly that copy in memory.
    const newest = this.newest.get(cell.path);
    if (newest !== undefined) {
      for (const partner of slot.partners) {
        const held = this.copiesHeldBy(partner, false)?.get(cell.path);
        if (held === undefined || held.seq !== newest) continue;
        slot.seq = Math.max(slot.seq, newest);
        const state = this.decode(cell, held, 'partner-memory');
        if (state === undefined) break; // corrupt: the full search below finds the next copy
        cell.state = state.value;
        this.metrics.restored++;
        cell.log.info({ seq: held.seq, source: 'partner-memory' }, `restored ${cell.path} from snapshot ${held.seq}`);
        return;
      }
    }
    const store = this.storeOrThrow();
    const candidates: Array<{ row: SnapshotRow; source: SnapshotInfo['source']; node?: string }> = [];
    // Rows taken this turn and not yet committed are the newest (a restart can come first).
    for (const row of this.pending) if (row.path === cell.path && row.holder === null) candidates.push({ row, source: 'own' });
    for (const row of store.own(cell.path, slot.config?.keep ?? DEFAULT_KEEP)) candidates.push({ row, source: 'own' });
    for (const row of store.replicas(cell.path)) candidates.push({ row, source: 'replica' });
    for (const partner of slot.partners) {
      const held = this.copiesHeldBy(partner, false)?.get(cell.path);
      if (held) candidates.push({ row: held, source: 'partner-memory' });
    }
    // Copies from other nodes: received here as their partner, and fetched from this actor's partners.
    const received = this.remote.heldCopy(cell.path);
    if (received !== undefined) candidates.push({ row: received, source: 'replica' });
    // Kept after use until this process commits a snapshot of the actor (a crash before that must
    // not take it back to init).
    for (const { node, row } of slot.fetched ?? []) candidates.push({ row, source: 'replica', node });
    // Newest first; for one seq prefer memory (no I/O), then own, then a persisted replica.
    const rank = { 'partner-memory': 0, own: 1, replica: 2 };
    candidates.sort((a, b) => b.row.seq - a.row.seq || rank[a.source] - rank[b.source]);
    slot.seq = Math.max(slot.seq, store.maxSeq(cell.path), candidates[0]?.row.seq ?? 0);
    for (const { row, source, node } of candidates) {
      const state = this.decode(cell, row, source);
      if (state === undefined) continue;
      cell.state = state.value;
      this.metrics.restored++;
      cell.log.info({ seq: row.seq, source, holder: row.holder ?? undefined, node }, `restored ${cell.path} from snapshot ${row.seq}`);
      return;
    }
    if (candidates.length > 0) {
      this.metrics.restoreFailures++;
      cell.log.error({ candidates: candidates.length }, `no valid snapshot of ${cell.path}: it starts from init`);
    }
  }

  /**
   * Before the first init of an actor with partners on other nodes in this process: their copies
   * are fetched for its restore, once (a restart while it is under way waits for the same fetch;
   * later ones restore locally: the copies fetched stay candidates, and this process takes the
   * newer snapshots from then on).
   */
  prefetch(cell: ActorCell, slot: SnapshotSlot): Promise<void> | undefined {
    if (slot.fetching !== null) return slot.fetching;
    if (slot.fetchedOnce || slot.remotePartners.length === 0 || this.newest.has(cell.path)) return undefined;
    slot.fetchedOnce = true;
    slot.fetching = this.remote.fetch(cell.path, slot.remotePartners).then((copies) => {
      slot.fetched = copies;
      slot.fetching = null;
    });
    return slot.fetching;
  }

  /** Replica rows another node sent to partners here: kept in memory, and persisted when there is a store. */
  acceptReplicas(rows: unknown, from: string): void {
    const refusedBefore = this.remote.refused;
    const kept = this.remote.accept(rows, from);
    this.metrics.replicasRefused += this.remote.refused - refusedBefore;
    this.metrics.replicasReceived += kept.length;
    if (kept.length === 0 || this.openStore === null || this.closed) return;
    for (const row of kept) this.pending.push(row);
    this.scheduleFlush();
  }

  /** The copies of `path` this node holds (own, replicas, received), newest first: what another node's restore asks for. */
  copiesOf(path: string): SnapshotRow[] {
    const rows: SnapshotRow[] = [];
    for (const row of this.pending) if (row.path === path) rows.push(row);
    const store = this.openStore === null || this.closed ? null : this.storeOrThrow();
    if (store !== null) rows.push(...store.own(path, 1), ...store.replicas(path));
    const received = this.remote.heldCopy(path);
    if (received !== undefined) rows.push(received);
    // A received copy is also in the store: each (holder, seq) once.
    const seen = new Set<string>();
    const unique = rows.filter((row) => {
      const key = `${row.holder}\u0000${row.seq}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return unique.sort((a, b) => b.seq - a.seq).slice(0, 4);
  }

  /** `node` was heard from (again): it gets the newest replica of each actor partnered with it. */
  nodeUp(node: string): void {
    this.metrics.replicasSent += this.remote.resend(node);
  }

  /** Decodes and migrates a row; undefined (after logging and counting) when it is unusable. */
  private decode(cell: ActorCell, row: SnapshotRow, source: string): { value: unknown } | undefined {
    try {
      const behavior = cell.behavior;
      // Types, codec and checksum first (in decodeRow): a damaged version must decide nothing.
      let value = decodeRow(row);
      if (row.version > behavior.version) {
        throw new SnapshotCorruptError(row.path, row.seq, `written by version ${row.version}, newer than this code's ${behavior.version}`);
      }
      if (row.version < behavior.version) {
        if (behavior.migrate === undefined) {
          throw new SnapshotCorruptError(row.path, row.seq, `version ${row.version} needs migrate() to reach ${behavior.version}`);
        }
        value = behavior.migrate(value, row.version);
      }
      return { value };
    } catch (error) {
      this.metrics.corrupt++;
      cell.log.error({ err: error, seq: row.seq, source, holder: row.holder ?? undefined }, `skipped snapshot ${row.seq} of ${cell.path}`);
      return undefined;
    }
  }

  /** The state of one of an actor's own snapshots (latest if no seq), for a rollback. */
  rollback(cell: ActorCell, seq: number | undefined): unknown {
    const store = this.storeOrThrow();
    const row = seq === undefined ? store.own(cell.path, 1)[0] : store.get(cell.path, seq);
    if (row === undefined) throw new ConfigError('seq', `${cell.path} has no snapshot${seq === undefined ? '' : ` ${seq}`}`);
    const state = this.decode(cell, row, 'own');
    if (state === undefined) throw new SnapshotCorruptError(cell.path, row.seq, 'see the log');
    return state.value;
  }

  list(path: string): SnapshotInfo[] {
    const store = this.storeOrThrow();
    const info = (row: SnapshotRow, source: SnapshotInfo['source']): SnapshotInfo => ({
      seq: row.seq,
      takenAt: row.takenAt,
      size: row.data.byteLength,
      version: row.version,
      source,
      ...(row.holder === null ? {} : { holder: row.holder }),
    });
    const rows = [...store.own(path, Infinity).map((r) => info(r, 'own')), ...store.replicas(path).map((r) => info(r, 'replica'))];
    return rows.sort((a, b) => b.seq - a.seq);
  }

  /** The copies a live partner holds in memory (source path → newest row); created on request. */
  private copiesHeldBy(partner: string, create: boolean): Map<string, SnapshotRow> | undefined {
    const holder = this.system.lookup(partner)?.target;
    if (!(holder instanceof ActorCell)) return undefined;
    let copies = this.held.get(holder);
    if (copies === undefined && create) this.held.set(holder, (copies = new Map()));
    return copies;
  }

  /** The actor stopped for good: no more timer, and the copies it held in memory are gone. */
  detach(cell: ActorCell): void {
    this.held.delete(cell);
    this.remote.forget(cell.path);
    const slot = cell.hooks;
    if (!(slot instanceof SnapshotSlot)) return;
    if (slot.timer !== null) this.system.clock.clearTimeout(slot.timer);
    slot.timer = null;
    this.abandon(slot, 'the actor stopped');
  }

  /** Flushes what is queued and closes the store. */
  close(): void {
    this.flush();
    this.store?.close();
    this.store = null;
    this.closed = true;
  }
}
