/**
 * Snapshot replicas between nodes (partners on other nodes): rows sent to a node on
 * `genesis.replica.<node>`, and the copies a node holds asked for on `genesis.fetch.<node>` by a
 * node whose actor is starting. The snapshot rules (which copy wins, what is kept) are
 * persistence's; this is only the transport, over the cluster's connection.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ReplicaTransport } from '../persistence/remote-partners.js';
import type { SnapshotRow } from '../persistence/snapshot-store.js';
import type { Listen } from './listen.js';
import { decode, encode, fetchSubject, replicaSubject } from './wire.js';

/** What a node does with replicas: Snapshots implements it. */
export interface ReplicaHost {
  acceptReplicas(rows: unknown, from: string): void;
  copiesOf(path: string): SnapshotRow[];
}

/** Replica rows on the wire: [origin node, rows]. */
type ReplicaBatch = [string, SnapshotRow[]];

export class ReplicaLink implements ReplicaTransport {
  constructor(
    readonly node: string,
    private readonly nc: NatsConnection,
    private readonly host: ReplicaHost,
    private readonly log: Logger,
    /** How long a fetch waits for a node's answer (ms). */
    private readonly fetchTimeoutMs: number,
    /** Is `node` known to be down (a fetch from it is skipped)? */
    private readonly isDown: (node: string) => boolean,
  ) {}

  /** Starts answering: rows sent to this node, and fetches of the copies it holds. */
  serve(listen: Listen): Subscription[] {
    return [listen(replicaSubject(this.node), (msg) => this.onReplicas(msg)), listen(fetchSubject(this.node), (msg) => this.onFetch(msg))];
  }

  send(node: string, rows: SnapshotRow[]): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(replicaSubject(node), encode([this.node, rows] satisfies ReplicaBatch));
    } catch (error) {
      this.log.warn({ err: error, node, rows: rows.length }, `replicas not sent to node ${node}`);
    }
  }

  async fetch(node: string, path: string): Promise<SnapshotRow[]> {
    if (this.isDown(node) || this.nc.isClosed()) return [];
    try {
      const msg = await this.nc.request(fetchSubject(node), encode(path), { timeout: this.fetchTimeoutMs });
      const rows = decode(msg.data);
      return Array.isArray(rows) ? (rows as SnapshotRow[]) : [];
    } catch (error) {
      // No such node, or it did not answer in time: the restore goes on with the copies it has.
      this.log.info({ err: error, node, path }, `no copies of ${path} from node ${node}`);
      return [];
    }
  }

  private onReplicas(msg: Msg): void {
    let from: string;
    let rows: unknown;
    try {
      [from, rows] = decode(msg.data) as ReplicaBatch;
    } catch (error) {
      this.log.warn({ err: error }, 'undecodable replicas dropped');
      return;
    }
    this.host.acceptReplicas(rows, String(from));
  }

  private onFetch(msg: Msg): void {
    let rows: SnapshotRow[] = [];
    try {
      const path = decode(msg.data);
      if (typeof path === 'string') rows = this.host.copiesOf(path);
    } catch (error) {
      this.log.warn({ err: error }, 'a fetch of replicas failed');
    }
    try {
      msg.respond(encode(rows));
    } catch (error) {
      this.log.debug({ err: error }, 'replicas not sent back (connection closing)');
    }
  }
}
