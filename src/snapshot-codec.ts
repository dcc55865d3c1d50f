/**
 * The snapshot codec: an actor's state ⇄ the `codec`, `checksum` and `data` of a SnapshotRow.
 *
 * 'msgpackr/1' is MessagePack written by msgpackr with its record extension (plain objects as
 * records, so that they come back as objects while a `Map` comes back as a `Map`) and `moreTypes`
 * (Set, typed arrays, Error, RegExp). Every record definition is written inline in the buffer
 * itself — no shared `structures`, nothing kept between calls — so any later process decodes it.
 *
 * Round-trips: objects, arrays, strings, numbers, booleans, null, undefined (as a value and in
 * fields), Map (any keys), Set, Date (ms precision), BigInt of any size (beyond 64 bits through
 * msgpackr's bigint extension; 2^100000 takes ~12.5 KB), Uint8Array, Buffer (as Uint8Array), the
 * other typed arrays, ArrayBuffer, DataView, Error, RegExp. Not kept: class prototypes (an
 * instance comes back as a plain object), functions (dropped: the field decodes as undefined),
 * -0 (comes back as 0), shared references (each becomes its own copy). A symbol or a cycle cannot
 * be encoded: encodeState throws a TypeError naming why.
 *
 * Decoded binary data never aliases the row's buffer (`copyBuffers`), so a restored state can be
 * mutated without touching a stored row.
 */
import { Packr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import { SnapshotCorruptError } from './errors.js';
import type { SnapshotRow } from './snapshot-store.js';

/** The codec name written into every row. */
export const CODEC = 'msgpackr/1';

export interface EncodedState {
  codec: string;
  /** CRC32 of `data`, unsigned. */
  checksum: number;
  data: Uint8Array;
}

/** One instance for encoding and decoding: the hot path allocates no codec state. */
const packr = new Packr({
  useRecords: true, // records, defined inline per buffer: objects stay objects, Maps stay Maps
  mapsAsObjects: false,
  moreTypes: true,
  useBigIntExtension: true,
  int64AsType: 'bigint', // a bigint that fits 64 bits comes back as a bigint, not a number
  copyBuffers: true,
});

/** Encodes an actor's state. Throws TypeError when the state holds a symbol or a cycle. */
export function encodeState(state: unknown): EncodedState {
  let data: Uint8Array;
  try {
    data = packr.pack(state);
  } catch (error) {
    const why = error instanceof RangeError && /call stack/i.test(error.message) ? 'it contains a cycle (or is nested too deeply)' : (error as Error).message;
    throw new TypeError(`state cannot be encoded for a snapshot: ${why}`, { cause: error });
  }
  return { codec: CODEC, checksum: crc32(data), data };
}

/**
 * Decodes a row's state. Throws SnapshotCorruptError when the codec is unknown, the checksum
 * does not match the data, or the data does not decode (truncated, trailing bytes, garbage).
 */
export function decodeRow(row: SnapshotRow): unknown {
  if (row.codec !== CODEC) throw new SnapshotCorruptError(row.path, row.seq, `unknown codec '${row.codec}'`);
  const data = row.data;
  if (!(data instanceof Uint8Array)) throw new SnapshotCorruptError(row.path, row.seq, 'no data');
  const actual = crc32(data);
  if (actual !== row.checksum) {
    throw new SnapshotCorruptError(row.path, row.seq, `checksum mismatch (stored ${row.checksum}, data has ${actual})`);
  }
  try {
    return packr.unpack(data);
  } catch (error) {
    const corrupt = new SnapshotCorruptError(row.path, row.seq, `does not decode: ${(error as Error).message}`);
    (corrupt as { cause?: unknown }).cause = error;
    throw corrupt;
  }
}
