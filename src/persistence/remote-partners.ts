/**
 * Partners on other nodes (`partners: ['b:/trading/portfolio-replica']`): the snapshots an actor
 * takes here are sent to those nodes, which keep them as replicas (in memory and in their store),
 * and an actor starting anywhere asks its remote partners' nodes for their newest copies before
 * its restore chooses the newest valid one.
 *
 * - Sending is fire-and-forget after each group commit (one message per node per commit). A node
 *   that missed some (it was down, or not yet up) gets the newest copy of each actor again as
 *   soon as it is heard from: replicas converge on the newest snapshot, never on an older one.
 * - Rows travel sealed: the receiving node checks their shape before keeping them and their
 *   checksum when it restores from them, like any other row.
 * - The fetch is bounded (`fetchTimeoutMs`): a node down or silent costs a start that much at most,
 *   and is skipped at once when it is known to be down.
 */
import type { Logger } from 'pino';
import { rowProblem } from './memory-store.js';
import type { SnapshotRow } from './snapshot-store.js';

/** How snapshots reach other nodes: the cluster implements it. */
export interface ReplicaTransport {
  /** This node's name. */
  readonly node: string;
  /** Sends rows to be held on `node` (fire-and-forget). */
  send(node: string, rows: SnapshotRow[]): void;
  /** The copies of `path` that `node` holds, newest first; [] when it holds none, is down or does not answer in time. */
  fetch(node: string, path: string): Promise<SnapshotRow[]>;
}

/** A partner on another node. */
export interface RemotePartner {
  readonly node: string;
  /** The partner's path on that node (the holder of the replica rows there). */
  readonly path: string;
}

/** Splits `partners` into this node's paths and partners on other nodes (`node:/path`). */
export function splitPartners(partners: readonly string[], ownNode: string | undefined): { local: string[]; remote: RemotePartner[] } {
  const local: string[] = [];
  const remote: RemotePartner[] = [];
  for (const partner of partners) {
    const colon = partner.indexOf(':');
    if (colon < 0 || partner.startsWith('/')) {
      local.push(partner);
      continue;
    }
    const node = partner.slice(0, colon);
    const path = partner.slice(colon + 1);
    if (node === ownNode) local.push(path);
    else remote.push({ node, path });
  }
  return { local, remote };
}

export class RemotePartners {
  transport: ReplicaTransport | null = null;
  /** Rows to send after the next commit, per node. */
  private outgoing = new Map<string, SnapshotRow[]>();
  /** The newest row sent to each node, per (source path, holder): sent again when that node comes back. */
  private readonly sent = new Map<string, Map<string, SnapshotRow>>();
  /** Copies held here for actors of other nodes: source path → newest row received. */
  private readonly held = new Map<string, SnapshotRow>();
  /** Rows from other nodes refused for their shape. */
  refused = 0;

  constructor(private readonly log: Logger) {}

  /** Queues a replica row for a partner on another node (sent by `flush`). */
  queue(node: string, row: SnapshotRow): void {
    let rows = this.outgoing.get(node);
    if (rows === undefined) this.outgoing.set(node, (rows = []));
    rows.push(row);
    let newest = this.sent.get(node);
    if (newest === undefined) this.sent.set(node, (newest = new Map()));
    const key = `${row.path}\u0000${row.holder}`;
    const before = newest.get(key);
    if (before === undefined || before.seq <= row.seq) newest.set(key, row);
  }

  /** Sends what was queued, one message per node; returns the rows sent. */
  flush(): number {
    if (this.outgoing.size === 0) return 0;
    const outgoing = this.outgoing;
    this.outgoing = new Map();
    const transport = this.transport;
    if (transport === null) return 0; // not in a cluster (any more)
    let sent = 0;
    for (const [node, rows] of outgoing) {
      transport.send(node, rows);
      sent += rows.length;
    }
    return sent;
  }

  /** `node` was heard from (again): it gets the newest row of each actor partnered with it; returns the rows sent. */
  resend(node: string): number {
    const newest = this.sent.get(node);
    if (newest === undefined || newest.size === 0 || this.transport === null) return 0;
    this.transport.send(node, [...newest.values()]);
    return newest.size;
  }

  /** The actor at `path` stopped for good here: its newest rows are no longer sent again. */
  forget(path: string): void {
    const prefix = `${path}\u0000`;
    for (const newest of this.sent.values()) for (const key of newest.keys()) if (key.startsWith(prefix)) newest.delete(key);
  }

  /** Rows sent here by another node: the well-formed ones are kept (and returned, to be persisted). */
  accept(rows: unknown, from: string): SnapshotRow[] {
    const kept: SnapshotRow[] = [];
    if (!Array.isArray(rows)) {
      this.refused++;
      this.log.warn({ from }, `replicas from node ${from} dropped: not a list of rows`);
      return kept;
    }
    for (const row of rows as SnapshotRow[]) {
      const problem = rowProblem(row) ?? (row.holder === null ? 'a replica must name its holder' : undefined);
      if (problem !== undefined) {
        this.refused++;
        this.log.warn({ from, why: problem }, `a replica row from node ${from} dropped: ${problem}`);
        continue;
      }
      const before = this.held.get(row.path);
      if (before === undefined || before.seq <= row.seq) this.held.set(row.path, row);
      kept.push(row);
    }
    return kept;
  }

  /** The newest copy of `path` received from another node, if any. */
  heldCopy(path: string): SnapshotRow | undefined {
    return this.held.get(path);
  }

  /** The copies of `path` the partners on other nodes hold, newest first ([] outside a cluster). */
  async fetch(path: string, partners: readonly RemotePartner[]): Promise<Array<{ node: string; row: SnapshotRow }>> {
    const transport = this.transport;
    if (transport === null || partners.length === 0) return [];
    const nodes = [...new Set(partners.map((p) => p.node))];
    const answers = await Promise.all(
      nodes.map((node) =>
        transport.fetch(node, path).then(
          (rows) => rows.map((row) => ({ node, row })),
          () => [], // a transport never rejects; if one did, that node simply had nothing
        ),
      ),
    );
    const copies = answers.flat().filter(({ row }) => rowProblem(row) === undefined && row.path === path);
    return copies.sort((a, b) => b.row.seq - a.row.seq);
  }
}
