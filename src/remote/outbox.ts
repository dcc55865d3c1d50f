/**
 * Tells to other nodes, batched: every tell is encoded when it is made (so a later change of the
 * message by the sender cannot leak into it, and an unencodable one is refused at the call), and
 * the tells to one node made in one turn of the event loop travel as one NATS message on
 * `genesis.tells.<node>` — the per-message cost of NATS (a protocol line, routing, a read on the
 * other side) is paid once per batch, not per tell.
 *
 * Order: tells from this node to another arrive in the order they were made, and before any ask
 * made after them (an ask flushes its node's batch first: both then travel on one connection, in
 * order). A batch holds at most MAX_BATCH_BYTES (or the server's max_payload, if less): a tell
 * that would take it over sends it first. A batch the connection refuses is reported, tell by
 * tell, to `onLost` (dead letters): nothing vanishes unseen.
 *
 * Wire format: frames of [u32 length][msgpack of [path, message, priority]], back to back.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { MessageTooLargeError } from '../util/errors.js';
import { tellsSubject } from './wire.js';

/** A batch leaves once it holds this much, without waiting for the end of the turn. */
const MAX_BATCH_BYTES = 256 * 1024;
/** Each frame's length prefix. */
const FRAME_HEADER = 4;
/** Room kept in a message for the protocol line and the subject. */
const PROTOCOL_ROOM = 256;

interface Batch {
  frames: Uint8Array[];
  /** What each frame holds, for dead letters if the batch is lost. */
  tells: Array<[path: string, message: unknown]>;
  bytes: number;
}

export class Outbox {
  private readonly batches = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly nc: NatsConnection,
    /** A batch could not be published: each of its tells, and why. */
    private readonly onLost: (tells: Array<[path: string, message: unknown]>, error: unknown) => void,
  ) {}

  /** The most bytes one NATS message may carry on this connection. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /**
   * MessageTooLargeError unless `bytes` for `path` fit in one NATS message on this connection
   * (`framed`: as a tell, inside a batch): what cannot travel is refused at the call.
   */
  checkSize(path: string, bytes: number, framed: boolean): void {
    const limit = this.maxPayload - PROTOCOL_ROOM - (framed ? FRAME_HEADER : 0);
    if (bytes > limit) throw new MessageTooLargeError(path, bytes, limit);
  }

  /** Queues one encoded tell (of `message` to `path`) for `node`; the frame must fit in one message. */
  add(node: string, frame: Uint8Array, path: string, message: unknown): void {
    const limit = Math.min(MAX_BATCH_BYTES, this.maxPayload);
    let batch = this.batches.get(node);
    if (batch !== undefined && batch.bytes + frame.byteLength + FRAME_HEADER > limit) {
      this.flush(node);
      batch = undefined;
    }
    if (batch === undefined) this.batches.set(node, (batch = { frames: [], tells: [], bytes: 0 }));
    batch.frames.push(frame);
    batch.tells.push([path, message]);
    batch.bytes += frame.byteLength + FRAME_HEADER;
    if (batch.bytes >= limit) this.flush(node);
    else if (!this.scheduled) {
      this.scheduled = true;
      // After the code that is telling has run to its end (a loop of tells is one batch), before any I/O.
      queueMicrotask(this.flushAll);
    }
  }

  /** Sends `node`'s batch now (an ask to it must not overtake the tells made before it). */
  flush(node: string): void {
    const batch = this.batches.get(node);
    if (batch === undefined) return;
    this.batches.delete(node);
    const data = new Uint8Array(batch.bytes);
    const view = new DataView(data.buffer);
    let at = 0;
    for (const frame of batch.frames) {
      view.setUint32(at, frame.byteLength);
      data.set(frame, at + FRAME_HEADER);
      at += frame.byteLength + FRAME_HEADER;
    }
    try {
      this.nc.publish(tellsSubject(node), data);
    } catch (error) {
      this.onLost(batch.tells, error);
    }
  }

  readonly flushAll = (): void => {
    this.scheduled = false;
    for (const node of [...this.batches.keys()]) this.flush(node);
  };
}

/** The frames of a batch; a truncated frame ends it (what came before is delivered). */
export function framesOf(data: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at + FRAME_HEADER <= data.byteLength) {
    const length = view.getUint32(at);
    if (at + FRAME_HEADER + length > data.byteLength) break;
    frames.push(data.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length));
    at += FRAME_HEADER + length;
  }
  return frames;
}
