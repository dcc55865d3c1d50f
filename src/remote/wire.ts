/**
 * What crosses the wire between nodes: NATS subjects for actors and topics, msgpackr payloads,
 * and errors as plain data mapped back to Genesis error classes by `code` on the caller's side.
 */
import { Packr } from 'msgpackr';
import {
  ActorStoppedError,
  CircuitOpenError,
  ConfigError,
  DeadlockError,
  GenesisError,
  MailboxFullError,
  NodeDownError,
  NoReplyError,
  OverloadedError,
  SystemStoppedError,
  TimeoutError,
} from '../util/errors.js';

/** One codec for every message: records defined inline per buffer, so any process decodes it. */
const packr = new Packr({
  useRecords: true,
  mapsAsObjects: false,
  moreTypes: true,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  copyBuffers: true,
});

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode(data: Uint8Array): unknown {
  return packr.unpack(data);
}

const PREFIX = 'genesis';

/**
 * One subject token for any string: NATS tokens cannot be empty nor hold '.', '*', '>' or
 * whitespace, so a segment is URI-encoded (with '.' and '*' escaped too); '%' alone is the empty one.
 */
export function token(segment: string): string {
  if (segment === '') return '%';
  return encodeURIComponent(segment).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

export function untoken(t: string): string {
  return t === '%' ? '' : decodeURIComponent(t);
}

/** The subject an actor at `path` on `node` is reached on: `genesis.actor.<node>.<segments…>`. */
export function actorSubject(node: string, path: string): string {
  return `${PREFIX}.actor.${node}${path
    .split('/')
    .slice(1)
    .map((s) => `.${token(s)}`)
    .join('')}`;
}

/** Every actor subject of `node` (one subscription per node). */
export function nodeActorsSubject(node: string): string {
  return `${PREFIX}.actor.${node}.>`;
}

/** Paths of the subjects seen lately: decoding one (split, decodeURIComponent) costs µs per message. */
const paths = new Map<string, string>();

/** The path an actor subject names. */
export function pathOfSubject(subject: string): string {
  let path = paths.get(subject);
  if (path === undefined) {
    path = `/${subject.split('.').slice(3).map(untoken).join('/')}`;
    if (paths.size >= 1024) paths.clear();
    paths.set(subject, path);
  }
  return path;
}

/** The subject events of `topic` travel on: `genesis.event.<topic segments…>`. */
export function eventSubject(topic: string): string {
  return `${PREFIX}.event.${topic.split('.').map(token).join('.')}`;
}

/** The subjects of one kind of message addressed to a node: `genesis.<kind>.<node>`. */
function perNode(kind: string): (node: string) => string {
  return (node) => `${PREFIX}.${kind}.${node}`;
}

/** The subject `node`'s heartbeats (and its goodbye) travel on. */
export const heartbeatSubject = perNode('node');

export const ALL_HEARTBEATS = heartbeatSubject('*');

/** The subject the process that is node `node` answers on: a node joining under a taken name is refused. */
export const helloSubject = perNode('hello');

/** The subject batches of tells to `node`'s actors travel on. */
export const tellsSubject = perNode('tells');

/** The subject other nodes ask `node` on to watch its actors. */
export const watchSubject = perNode('watch');

/** The subject `node` is told on that an actor it watches elsewhere has stopped. */
export const downSubject = perNode('down');

/** The subject cancellations of asks to `node`'s actors are sent on. */
export const cancelSubject = perNode('cancel');

/** The subject replica rows for partners on `node` are sent on. */
export const replicaSubject = perNode('replica');

/** The subject `node` answers on with the snapshot copies it holds of a path. */
export const fetchSubject = perNode('fetch');

export const ALL_EVENTS = `${PREFIX}.event.>`;

export function topicOfSubject(subject: string): string {
  return subject.split('.').slice(2).map(untoken).join('.');
}

/** An error as plain data: its name, code, message and the fields its class carries. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  path?: string;
  crashed?: boolean;
  timeoutMs?: number;
  cycle?: string[];
  capacity?: number;
  option?: string;
  systemName?: string;
  node?: string;
  cause?: WireError;
}

const FIELDS = ['code', 'path', 'crashed', 'timeoutMs', 'cycle', 'capacity', 'option', 'systemName', 'node'] as const;

/** `received` as a WireError whose fields have their types (others dropped). */
function wellFormed(received: unknown): WireError {
  if (received === null || typeof received !== 'object') return { name: 'Error', message: `malformed error from another node: ${String(received)}` };
  const raw = received as Record<string, unknown>;
  const wire: WireError = { name: typeof raw.name === 'string' ? raw.name : 'Error', message: typeof raw.message === 'string' ? raw.message : '' };
  const fields = wire as unknown as Record<string, unknown>;
  for (const key of ['code', 'path', 'option', 'systemName', 'node'] as const) if (typeof raw[key] === 'string') fields[key] = raw[key];
  if (typeof raw.crashed === 'boolean') wire.crashed = raw.crashed;
  if (typeof raw.timeoutMs === 'number') wire.timeoutMs = raw.timeoutMs;
  if (typeof raw.capacity === 'number') wire.capacity = raw.capacity;
  if (Array.isArray(raw.cycle)) wire.cycle = raw.cycle.map(String);
  if (raw.cause !== undefined) wire.cause = raw.cause as WireError; // checked in turn by errorFromWire
  return wire;
}

export function errorToWire(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const wire: WireError = { name: error.name, message: error.message };
  const fields = error as unknown as Record<string, unknown>;
  for (const key of FIELDS) {
    const value = fields[key];
    if (value !== undefined && (typeof value !== 'object' || Array.isArray(value))) (wire as unknown as Record<string, unknown>)[key] = value;
  }
  if (error.cause !== undefined && depth < 2) wire.cause = errorToWire(error.cause, depth + 1);
  return wire;
}

/**
 * The error of the caller's side: the Genesis class of its `code`, with the remote message. Total:
 * whatever arrives (another version, a foreign client), an Error comes out, never a throw.
 */
export function errorFromWire(received: unknown, depth = 0): Error {
  const wire = wellFormed(received);
  const path = wire.path ?? '/';
  const cause = wire.cause === undefined || depth >= 2 ? undefined : errorFromWire(wire.cause, depth + 1);
  let error: Error;
  switch (wire.code) {
    case 'TIMEOUT':
      error = new TimeoutError(path, wire.timeoutMs ?? 0);
      break;
    case 'DEADLOCK':
      error = new DeadlockError(path, wire.cycle ?? []);
      break;
    case 'CIRCUIT_OPEN':
      error = new CircuitOpenError(path, wire.message);
      break;
    case 'MAILBOX_FULL':
      error = new MailboxFullError(path, wire.capacity ?? 0);
      break;
    case 'OVERLOADED':
      error = new OverloadedError(path, wire.message);
      break;
    case 'NO_REPLY':
      error = new NoReplyError(path);
      break;
    case 'ACTOR_STOPPED':
      error = new ActorStoppedError(path, wire.message, cause === undefined ? { crashed: wire.crashed } : { cause, crashed: wire.crashed });
      break;
    case 'SYSTEM_STOPPED':
      error = new SystemStoppedError(wire.systemName ?? 'remote');
      break;
    case 'NODE_DOWN':
      error = new NodeDownError(wire.node ?? '?', path);
      break;
    case 'CONFIG':
      error = new ConfigError(wire.option ?? '?', wire.message);
      break;
    default:
      if (wire.code !== undefined) {
        error = new GenesisError(wire.code, wire.message, cause === undefined ? undefined : { cause });
        if (wire.path !== undefined) (error as unknown as { path: string }).path = wire.path;
      } else {
        error = new Error(wire.message, cause === undefined ? undefined : { cause });
      }
      error.name = wire.name;
  }
  error.message = wire.message;
  return error;
}
