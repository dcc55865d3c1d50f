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
 *
 * The checksum is the row's, not only the data's: CRC32 over `data`, continued over the columns
 * that decide what is restored and where (path, holder, seq, takenAt, version, codec). A damaged
 * path can then not hand one actor another's state, nor a damaged seq let an older row win: both
 * fail the check like a flipped data byte. The data's CRC is computed once per snapshot
 * (`encodeState`); each row (own, and one per partner) only adds its short header (`sealRow`).
 */
import { Packr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import { SnapshotCorruptError } from '../util/errors.js';
import { rowProblem } from './memory-store.js';
import type { SnapshotRow } from './snapshot-store.js';

/** The codec name written into every row. */
export const CODEC = 'msgpackr/1';

export interface EncodedState {
  codec: string;
  /** CRC32 of `data` alone, unsigned; `sealRow` continues it over the row's other columns. */
  dataCrc: number;
  data: Uint8Array;
}

/** The columns of a row other than its encoded state. */
export type RowHeader = Pick<SnapshotRow, 'path' | 'holder' | 'seq' | 'takenAt' | 'version'>;

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
  return { codec: CODEC, dataCrc: crc32(data), data };
}

/**
 * The checksum of a row: CRC32 of its data (`dataCrc` when the caller has it), continued over
 * its other columns. JSON keeps the header unambiguous and type-exact: seq 5 and '5' differ.
 */
export function rowChecksum(row: Omit<SnapshotRow, 'checksum'>, dataCrc = crc32(row.data)): number {
  return crc32(JSON.stringify([row.path, row.holder, row.seq, row.takenAt, row.version, row.codec]), dataCrc);
}

/** A complete row: the header plus the encoded state, with the checksum over both. */
export function sealRow(header: RowHeader, encoded: EncodedState): SnapshotRow {
  const row = { path: header.path, holder: header.holder, seq: header.seq, takenAt: header.takenAt, version: header.version, codec: encoded.codec, data: encoded.data };
  return { ...row, checksum: rowChecksum(row, encoded.dataCrc) };
}

/** encodeState + sealRow: the row holding `state`. */
export function snapshotRow(header: RowHeader, state: unknown): SnapshotRow {
  return sealRow(header, encodeState(state));
}

/**
 * Checks a row without decoding it. Throws SnapshotCorruptError when a column has the wrong type,
 * the codec is unknown, or the checksum does not match the row.
 */
export function verifyRow(row: SnapshotRow): void {
  const problem = rowProblem(row);
  if (problem !== undefined) throw corrupt(row, problem);
  if (row.codec !== CODEC) throw corrupt(row, `unknown codec '${row.codec}'`);
  const actual = rowChecksum(row);
  if (actual !== row.checksum) throw corrupt(row, `checksum mismatch (stored ${row.checksum}, the row has ${actual})`);
}

/**
 * Decodes a row's state. Throws SnapshotCorruptError when verifyRow refuses the row, or the data
 * does not decode (truncated, trailing bytes, garbage).
 */
export function decodeRow(row: SnapshotRow): unknown {
  verifyRow(row);
  try {
    return packr.unpack(row.data);
  } catch (error) {
    throw corrupt(row, `does not decode: ${(error as Error).message}`, error);
  }
}

function corrupt(row: SnapshotRow, why: string, cause?: unknown): SnapshotCorruptError {
  const path = typeof row?.path === 'string' ? row.path : String(row?.path);
  const error = new SnapshotCorruptError(path, typeof row?.seq === 'number' ? row.seq : Number.NaN, why);
  if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
  return error;
}
