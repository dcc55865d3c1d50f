/**
 * Typed errors of Genesis. Every error has a stable `code` so callers can branch on it
 * without parsing messages; `path` names the actor involved where there is one.
 */
/**
 * The base of every Genesis error: a stable `code` to branch on ('TIMEOUT', 'CIRCUIT_OPEN', …).
 *
 * @example
 * ```ts
 * const reply = await counter.ask({ type: 'get' }).catch((e) => (e instanceof GenesisError ? e.code : Promise.reject(e)));
 * ```
 */
export class GenesisError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * True when `error` is a Genesis error — with the given `code`, if one is given
 * (`isGenesisError(e, 'TIMEOUT')`). Works across copies of the package: it checks the shape, not
 * the class.
 *
 * @example
 * ```ts
 * try {
 *   await ref.ask(msg);
 * } catch (e) {
 *   if (isGenesisError(e, 'CIRCUIT_OPEN')) useCache();
 *   else throw e;
 * }
 * ```
 */
export function isGenesisError(error: unknown, code?: string): error is GenesisError {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'string') return false;
  if (!(error instanceof GenesisError) && !GENESIS_CODES.has((error as GenesisError).code)) return false;
  return code === undefined || (error as GenesisError).code === code;
}

/** The codes of every Genesis error (for isGenesisError on errors from another copy). */
const GENESIS_CODES = new Set([
  'TIMEOUT',
  'DEADLOCK',
  'CIRCUIT_OPEN',
  'MAILBOX_FULL',
  'OVERLOADED',
  'NO_REPLY',
  'ACTOR_STOPPED',
  'SYSTEM_STOPPED',
  'SNAPSHOT_CORRUPT',
  'CONFIG',
  'CHECKPOINT_INCOMPLETE',
  'STORE_LOCKED',
  'NOT_A_SNAPSHOT_STORE',
  'ESCALATION',
  'SOCKET_IN_USE',
  'NODE_DOWN',
  'CLUSTER_UNREACHABLE',
]);

/**
 * An ask did not get a reply within its `timeoutMs` (a resilient() try, its deadline).
 *
 * @example
 * ```ts
 * await slow.ask(msg, { timeoutMs: 100 }).catch((e) => e instanceof TimeoutError && console.warn(`${e.path}: over ${e.timeoutMs} ms`));
 * ```
 */
export class TimeoutError extends GenesisError {
  constructor(
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super('TIMEOUT', `ask to ${path} timed out after ${timeoutMs} ms`);
  }
}

/**
 * An ask to oneself, or one that would close a cycle of actors waiting on each other; raised at
 * once, without waiting for the timeout. `cycle` lists the paths, first and last the asker.
 *
 * @example
 * ```ts
 * await ctx.ask(ctx.self, msg);   // inside a handler of /a: DeadlockError, e.cycle = ['/a', '/a']
 * ```
 */
export class DeadlockError extends GenesisError {
  constructor(
    readonly path: string,
    readonly cycle: string[],
  ) {
    super('DEADLOCK', `ask to ${path} would deadlock: ${cycle.join(' -> ')}`);
  }
}

/**
 * The target's breaker is open: the call was refused at once.
 *
 * @example
 * ```ts
 * const quote = await pricer.ask(query).catch((e) => (e instanceof CircuitOpenError ? cachedQuote : Promise.reject(e)));
 * ```
 */
export class CircuitOpenError extends GenesisError {
  constructor(
    readonly path: string,
    message = `circuit of ${path} is open`,
  ) {
    super('CIRCUIT_OPEN', message);
  }
}

/**
 * The target's mailbox was full and its overflow policy refused the message (for a tell,
 * `tell` returns false instead).
 *
 * @example
 * ```ts
 * const worker = system.spawn(Worker, { mailbox: { capacity: 100, overflow: 'reject' } });
 * await worker.ask(job).catch((e) => e instanceof MailboxFullError && retryLater(job));
 * ```
 */
export class MailboxFullError extends GenesisError {
  constructor(
    readonly path: string,
    readonly capacity: number,
  ) {
    super('MAILBOX_FULL', `mailbox of ${path} is full (capacity ${capacity})`);
  }
}

/**
 * The handler of an ask finished without `ctx.reply` and without `ctx.deferReply()`.
 *
 * @example
 * ```ts
 * const Mute = defineActor<null, string>({ receive() {} });
 * await system.spawn(Mute).ask('hello');   // rejects with NoReplyError
 * ```
 */
export class NoReplyError extends GenesisError {
  constructor(readonly path: string) {
    super('NO_REPLY', `${path} handled the ask without replying (use ctx.reply or ctx.deferReply)`);
  }
}

/**
 * The target actor is stopped, stopped while the ask was pending, or crashed handling it.
 *
 * @example
 * ```ts
 * await ref.ask(msg).catch((e) => {
 *   if (e instanceof ActorStoppedError && e.crashed) console.error(`${e.path} crashed:`, e.cause);
 * });
 * ```
 */
export class ActorStoppedError extends GenesisError {
  /**
   * True when the actor crashed handling the ask (`cause` is what it threw — possibly
   * `undefined`), false when it stopped or was stopped.
   */
  readonly crashed: boolean;
  constructor(
    readonly path: string,
    message = `actor ${path} is stopped`,
    options?: { cause?: unknown; crashed?: boolean },
  ) {
    super('ACTOR_STOPPED', message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined);
    this.crashed = options?.crashed ?? false;
  }
}

/**
 * The whole system has shut down. An ActorStoppedError, so one catch handles both.
 *
 * @example
 * ```ts
 * await system.shutdown();
 * await counter.ask({ type: 'get' }).catch((e) => e instanceof SystemStoppedError);   // true
 * ```
 */
export class SystemStoppedError extends ActorStoppedError {
  constructor(readonly systemName: string) {
    super('/', `actor system '${systemName}' has shut down`);
    (this as { code: string }).code = 'SYSTEM_STOPPED';
  }
}

/**
 * A snapshot row failed its checksum, did not decode, or was written by a newer version. A
 * restore logs it, counts it (`system.metrics().snapshots.corrupt`) and skips to an older copy.
 *
 * @example
 * ```ts
 * const error = new SnapshotCorruptError('/portfolio', 12, 'checksum mismatch');   // error.seq === 12
 * ```
 */
export class SnapshotCorruptError extends GenesisError {
  constructor(
    readonly path: string,
    readonly seq: number,
    why: string,
  ) {
    super('SNAPSHOT_CORRUPT', `snapshot ${seq} of ${path} is unusable: ${why}`);
  }
}

/**
 * A bad option or definition, raised where it was given; names the option and why.
 *
 * @example
 * ```ts
 * await ActorSystem.start({ askTimeoutMs: -1 }).catch((e) => e instanceof ConfigError && e.option);   // 'askTimeoutMs'
 * ```
 */
export class ConfigError extends GenesisError {
  constructor(
    readonly option: string,
    why: string,
  ) {
    super('CONFIG', `invalid ${option}: ${why}`);
  }
}

/**
 * `system.checkpoint()` could not snapshot every actor it was asked to (a handler that did not
 * finish in time, a state that cannot be encoded, a failed write). The snapshots in `seqs` were
 * committed all the same; `missed` says, per path, why the others were not.
 *
 * @example
 * ```ts
 * await system.checkpoint().catch((e) => {
 *   if (e instanceof CheckpointError) console.warn('not snapshotted:', e.missed, 'committed:', e.seqs);
 * });
 * ```
 */
export class CheckpointError extends GenesisError {
  constructor(
    readonly seqs: Record<string, number>,
    readonly missed: Record<string, string>,
  ) {
    const paths = Object.keys(missed);
    const done = Object.keys(seqs).length;
    super(
      'CHECKPOINT_INCOMPLETE',
      `checkpoint incomplete: could not snapshot ${paths.map((p) => `${p} (${missed[p]})`).join(', ')}; ${done} other snapshot${done === 1 ? '' : 's'} committed`,
    );
  }
}

/**
 * Raised to a supervisor's parent when the supervisor exceeded its restart intensity: the
 * supervisor crashes with it (the last child failure as `cause`), and its parent decides as for
 * any crash.
 *
 * @example
 * ```ts
 * const escalated = (reason: ExitReason) => typeof reason === 'object' && reason.error instanceof EscalationError;
 * ```
 */
export class EscalationError extends GenesisError {
  constructor(
    readonly path: string,
    readonly child: string,
    readonly reason: 'normal' | 'shutdown' | { error: unknown },
  ) {
    super('ESCALATION', `${path} exceeded its restart intensity (last failure: ${child})`, {
      cause: typeof reason === 'object' ? reason.error : undefined,
    });
  }
}

/**
 * Another store (in this process or another one) has the file open.
 *
 * @example
 * ```ts
 * await ActorSystem.start({ store: 'data/genesis.db' });   // while another system has it: StoreLockedError, e.file
 * ```
 */
export class StoreLockedError extends GenesisError {
  constructor(readonly file: string) {
    super('STORE_LOCKED', `snapshot store ${file} is open in another SqliteSnapshotStore (this process or another); close that one first`);
  }
}

/**
 * The file is a SQLite database, but not one this store wrote: it is left as it was.
 *
 * @example
 * ```ts
 * await ActorSystem.start({ store: 'data/other-app.db' });   // NotASnapshotStoreError, e.file and e.why
 * ```
 */
export class NotASnapshotStoreError extends GenesisError {
  constructor(
    readonly file: string,
    readonly why: string,
  ) {
    super('NOT_A_SNAPSHOT_STORE', `${file} is not a Genesis snapshot store: ${why}; give the store option another file`);
  }
}

/**
 * Refused at once because the target is full (a bulkhead's concurrency and queue are taken):
 * the caller can degrade now instead of discovering the overload later by a timeout. Never
 * retried, and never counted against a breaker.
 *
 * @example
 * ```ts
 * try { await quote(symbol) } catch (e) { if (isGenesisError(e, 'OVERLOADED')) return cachedQuote(symbol); throw e }
 * ```
 */
export class OverloadedError extends GenesisError {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super('OVERLOADED', `${path} is overloaded: ${why}`);
  }
}

/**
 * `serveRepl({ socket })` found a server listening on that path (this process or another): it is
 * left alone. A socket file nobody listens on (left by a host that exited) is replaced instead.
 *
 * @example
 * ```ts
 * await system.serveRepl({ socket: '/run/app/repl.sock' });   // while another host serves there: SocketInUseError, e.socket
 * ```
 */
export class SocketInUseError extends GenesisError {
  constructor(readonly socket: string) {
    super('SOCKET_IN_USE', `${socket} is in use: a server listens on it (another host, or this one); stop it or choose another path`);
  }
}

/**
 * An ask to an actor on another node found nobody there: that node is not connected to the
 * cluster (it stopped, crashed, or never joined). An ActorStoppedError, so one catch handles both.
 *
 * @example
 * ```ts
 * await system.remote('b', '/pricer').ask(query).catch((e) => e instanceof NodeDownError && e.node);   // 'b'
 * ```
 */
export class NodeDownError extends ActorStoppedError {
  constructor(
    readonly node: string,
    path: string,
    message = `node ${node} is down: nobody answers for ${path} there`,
  ) {
    super(path, message);
    (this as { code: string }).code = 'NODE_DOWN';
  }
}

/**
 * `ActorSystem.start({ cluster })` could not connect to any of the NATS servers given.
 *
 * @example
 * ```ts
 * await ActorSystem.start({ cluster: { servers: 'nats://127.0.0.1:4222', node: 'a' } });   // none listening: ClusterUnreachableError, e.servers
 * ```
 */
export class ClusterUnreachableError extends GenesisError {
  constructor(
    readonly servers: string[],
    why: string,
    options?: { cause?: unknown },
  ) {
    super('CLUSTER_UNREACHABLE', `cannot join the cluster at ${servers.join(', ')}: ${why}`, options);
  }
}

/**
 * A message to an actor on another node is larger than the cluster's NATS server takes in one
 * message (`max_payload`, 1 MB by default): the tell is a dead letter, the ask fails at once.
 *
 * @example
 * ```ts
 * await remoteRef.ask(hugeBuffer).catch((e) => isGenesisError(e, 'MESSAGE_TOO_LARGE'));   // e.bytes, e.limit
 * ```
 */
export class MessageTooLargeError extends GenesisError {
  constructor(
    readonly path: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super('MESSAGE_TOO_LARGE', `a message of ${bytes} bytes to ${path} is over the cluster's limit of ${limit} bytes per message`);
  }
}
