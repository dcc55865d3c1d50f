/**
 * The options of one actor — given to `spawn`, `child(…)` or a pool — and their resolved,
 * validated form (`ChildSpec`) that its cell carries: restart type, stop budget, breaker,
 * snapshots. Core knows these as plain settings; supervision and persistence act on them.
 */
import { BREAKER_DEFAULTS, type BreakerOptions, breakerOptions, type ResolvedBreakerOptions } from '../resilience/breaker.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';
import type { MailboxOptions } from './mailbox.js';

/**
 * When a supervisor restarts a child that ended: `permanent` always (also after a normal
 * `ctx.stop()`), `transient` only after a crash, `temporary` never. `system.stop(ref)` is never
 * followed by a restart.
 *
 * @example
 * ```ts
 * child('order-sync', OrderSync, { restart: 'transient' });   // done when it stops normally
 * ```
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * When to snapshot an actor's state, and how many of its own snapshots to keep. After every
 * init the state is restored from the newest valid copy.
 *
 * @example
 * ```ts
 * system.spawn(Portfolio, { name: 'portfolio', snapshot: { everyMessages: 200, everyMs: 500, keep: 3 } });
 * ```
 */
export interface SnapshotOptions {
  /** Take a snapshot after every N handled messages. */
  everyMessages?: number;
  /** Take a snapshot every N ms (system clock). */
  everyMs?: number;
  /** Own snapshots kept per actor (default 3). */
  keep?: number;
}

export interface SnapshotConfig {
  everyMessages: number;
  everyMs: number;
  keep: number;
}

export const DEFAULT_KEEP = 3;

export function snapshotConfig(options: SnapshotOptions | undefined, at: string): SnapshotConfig | null {
  if (options === undefined) return null;
  checkObject(`${at}snapshot`, options);
  knownKeys(`${at}snapshot`, options, ['everyMessages', 'everyMs', 'keep']);
  return {
    everyMessages: options.everyMessages === undefined ? 0 : positiveInteger(`${at}snapshot.everyMessages`, options.everyMessages),
    everyMs: options.everyMs === undefined ? 0 : positiveNumber(`${at}snapshot.everyMs`, options.everyMs),
    keep: options.keep === undefined ? DEFAULT_KEEP : positiveInteger(`${at}snapshot.keep`, options.keep),
  };
}

/** A partner: a local path, or `node:/path` for an actor on another node of the cluster. */
const PARTNER = /^([A-Za-z0-9_-]+:)?\/[^/]/;

export function checkPartners(partners: unknown, at: string): string[] {
  if (partners === undefined) return [];
  if (!Array.isArray(partners) || partners.some((p) => typeof p !== 'string' || !PARTNER.test(p))) {
    throw new ConfigError(`${at}partners`, 'must be an array of actor paths like "/trading/portfolio-replica" or, on another node, "b:/trading/portfolio-replica"');
  }
  return partners as string[];
}

/**
 * Options of one supervised child (and of `spawn`). Every key is checked: a typo or a bad value
 * is a ConfigError naming the option.
 *
 * @example
 * ```ts
 * child('portfolio', Portfolio, {
 *   restart: 'permanent', shutdownMs: 1_000, maxMessageCrashes: 2,
 *   mailbox: { capacity: 10_000, overflow: 'drop-oldest' },
 *   snapshot: { everyMessages: 200 }, partners: ['/trading/portfolio-replica'],
 * });
 * ```
 */
export interface ChildOptions<A = unknown> {
  /** What `init` gets as its first argument. */
  args?: A;
  /** When the supervisor restarts it (default 'permanent'). */
  restart?: RestartType;
  /** How long a stop may take (in-flight handler, then terminate) before the actor is killed. */
  shutdownMs?: number;
  /** How many times one message may crash the actor before it goes to dead letters (default 1). */
  maxMessageCrashes?: number;
  /** Its breaker never refuses: while open, asks are answered from `breaker.fallback` (default false). */
  essential?: boolean;
  mailbox?: MailboxOptions;
  /** Take snapshots of the state; it is restored from the newest valid one after every init. */
  snapshot?: SnapshotOptions;
  /** Paths of actors that hold a copy of every snapshot (in memory and in the store). */
  partners?: string[];
  /**
   * The breaker that guards asks to this actor (created on the first ask), or false for none.
   * `fallback` answers asks while an essential breaker is open (a value, or a function of the
   * message).
   */
  breaker?: (BreakerOptions & { fallback?: unknown }) | false;
}

/** The resolved per-child settings a cell carries. */
export interface ChildSpec {
  readonly restart: RestartType;
  readonly shutdownMs: number;
  readonly maxMessageCrashes: number;
  readonly essential: boolean;
  readonly snapshot: ReturnType<typeof snapshotConfig>;
  readonly partners: readonly string[];
  /** Validated breaker options; false for no breaker. */
  readonly breaker: ResolvedBreakerOptions | false;
  /** What an essential breaker answers while open. */
  readonly fallback: unknown;
}

export const DEFAULT_CHILD_SPEC: ChildSpec = Object.freeze({
  restart: 'permanent',
  shutdownMs: 5000,
  maxMessageCrashes: 1,
  essential: false,
  snapshot: null,
  partners: Object.freeze([]) as readonly string[],
  breaker: BREAKER_DEFAULTS,
  fallback: undefined,
});

const RESTARTS: RestartType[] = ['permanent', 'transient', 'temporary'];
export const CHILD_KEYS = ['args', 'restart', 'shutdownMs', 'maxMessageCrashes', 'essential', 'mailbox', 'snapshot', 'partners', 'breaker'];

const specCache = new WeakMap<object, ChildSpec>();

export function childSpec(options: ChildOptions | undefined, at: string): ChildSpec {
  if (options === undefined) return DEFAULT_CHILD_SPEC;
  const cached = specCache.get(options);
  if (cached) return cached;
  if (options.restart !== undefined && !RESTARTS.includes(options.restart)) {
    throw new ConfigError(`${at}restart`, `must be one of ${RESTARTS.join(', ')} (got ${String(options.restart)})`);
  }
  if (options.essential !== undefined && typeof options.essential !== 'boolean') throw new ConfigError(`${at}essential`, 'must be a boolean');
  const spec: ChildSpec =
    options.restart === undefined &&
    options.shutdownMs === undefined &&
    options.maxMessageCrashes === undefined &&
    options.essential === undefined &&
    options.snapshot === undefined &&
    options.partners === undefined &&
    options.breaker === undefined
      ? DEFAULT_CHILD_SPEC
      : Object.freeze({
          restart: options.restart ?? DEFAULT_CHILD_SPEC.restart,
          shutdownMs: options.shutdownMs === undefined ? DEFAULT_CHILD_SPEC.shutdownMs : positiveNumber(`${at}shutdownMs`, options.shutdownMs),
          maxMessageCrashes: options.maxMessageCrashes === undefined ? 1 : positiveInteger(`${at}maxMessageCrashes`, options.maxMessageCrashes),
          essential: options.essential ?? false,
          snapshot: snapshotConfig(options.snapshot, at),
          partners: Object.freeze(checkPartners(options.partners, at)),
          ...childBreaker(options.breaker, options.essential, at),
        });
  specCache.set(options, spec);
  return spec;
}

function childBreaker(option: ChildOptions['breaker'], essential: boolean | undefined, at: string): Pick<ChildSpec, 'breaker' | 'fallback'> {
  if (option === false) return { breaker: false, fallback: undefined };
  if (option === undefined) {
    return { breaker: essential ? breakerOptions({ essential: true }, `${at}breaker`) : BREAKER_DEFAULTS, fallback: undefined };
  }
  checkObject(`${at}breaker`, option);
  const { fallback, ...rest } = option;
  // An essential child gets an essential breaker unless its options say otherwise.
  const options = essential && rest.essential === undefined ? { ...rest, essential: true } : rest;
  return { breaker: breakerOptions(options, `${at}breaker`), fallback };
}
