/**
 * Pub/sub topics. A topic is a dot-separated name (`market.BTC.trade`); a subscription pattern
 * may use `*` for one segment (or part of one: `price*`) and `**` for any number of segments
 * (`breaker.**`). Publishing resolves the matching subscribers once per topic and caches the
 * list until subscriptions change.
 *
 * Precisely: `*` matches any run of characters without a '.', `**` any run of characters at
 * all (so `a.**` matches `a.b` and `a.b.c`, not `a`), every other character itself. Patterns
 * are matched by a small NFA walk, not a regex: a regex backtracks exponentially on patterns
 * like `*a*a*a*a*a*c`, and one subscriber could block the event loop for seconds per publish.
 */
import { ConfigError } from '../util/errors.js';

/**
 * A pub/sub event as `onEvent` receives it.
 *
 * @example
 * ```ts
 * const Ticker = defineActor<number, never>({
 *   init: () => 0,
 *   receive: (last) => last,
 *   onEvent: (last, event: ActorEvent) => (event.topic.endsWith('.trade') ? (event.data as { price: number }).price : last),
 * });
 * system.subscribe(system.spawn(Ticker), 'market.*.trade');
 * ```
 */
export interface ActorEvent<T = unknown> {
  topic: string;
  data: T;
  /** Path of the publishing actor, if any. */
  source?: string;
}

interface Pattern<S> {
  compiled: CompiledPattern;
  subscribers: Set<S>;
}

const CACHE_LIMIT = 10_000;

export function checkTopic(topic: unknown, option = 'topic'): string {
  if (typeof topic !== 'string' || topic.length === 0) throw new ConfigError(option, `must be a non-empty string (got ${describe(topic)})`);
  return topic;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** A pattern as tokens: a character code, or ONE (`*`) or ANY (`**`). */
export type CompiledPattern = Int32Array;

const ONE = -1;
const ANY = -2;
const STAR = 42; // '*'
const DOT = 46; // '.'

export function compilePattern(pattern: string): CompiledPattern {
  const tokens: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c !== STAR) tokens.push(c);
    else if (pattern.charCodeAt(i + 1) === STAR) {
      tokens.push(ANY);
      i++;
    } else tokens.push(ONE);
  }
  return Int32Array.from(tokens);
}

// Scratch state sets, reused by every match (matching is synchronous, never re-entered).
let current = new Uint8Array(32);
let following = new Uint8Array(32);

/**
 * Does `topic` match the compiled pattern? Simulates the pattern's NFA: the set of token
 * positions reachable so far advances one topic character at a time, so the cost is at most
 * (tokens + 1) × topic length steps whatever the pattern — no backtracking.
 */
export function matchesTopic(tokens: CompiledPattern, topic: string): boolean {
  const n = tokens.length;
  if (current.length <= n) {
    current = new Uint8Array(2 * (n + 1));
    following = new Uint8Array(2 * (n + 1));
  }
  let states = current;
  let next = following;
  states.fill(0, 0, n + 1);
  states[0] = 1;
  skipWildcards(tokens, states);
  for (let j = 0; j < topic.length; j++) {
    const c = topic.charCodeAt(j);
    next.fill(0, 0, n + 1);
    let alive = false;
    for (let i = 0; i < n; i++) {
      if (states[i] === 0) continue;
      const t = tokens[i]!;
      if (t === ANY || (t === ONE && c !== DOT))
        next[i] = 1; // the wildcard takes c and stays
      else if (t === c) next[i + 1] = 1;
      else continue;
      alive = true;
    }
    if (!alive) return false;
    skipWildcards(tokens, next);
    const done = states;
    states = next;
    next = done;
  }
  return states[n] === 1;
}

/** A wildcard may match nothing: every state at a wildcard also reaches the token after it
 *  (ascending, so a run of wildcards is crossed in one pass). */
function skipWildcards(tokens: CompiledPattern, states: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) if (states[i] === 1 && tokens[i]! < 0) states[i + 1] = 1;
}

export class EventBus<S> {
  private readonly exact = new Map<string, Set<S>>();
  private readonly patterns = new Map<string, Pattern<S>>();
  private readonly cache = new Map<string, S[]>();

  subscribe(subscriber: S, pattern: string): void {
    checkTopic(pattern);
    if (pattern.includes('*')) {
      let entry = this.patterns.get(pattern);
      if (!entry) this.patterns.set(pattern, (entry = { compiled: compilePattern(pattern), subscribers: new Set() }));
      entry.subscribers.add(subscriber);
    } else {
      let set = this.exact.get(pattern);
      if (!set) this.exact.set(pattern, (set = new Set()));
      set.add(subscriber);
    }
    this.cache.clear();
  }

  /** Removes one subscription; true if it existed. */
  unsubscribe(subscriber: S, pattern: string): boolean {
    const set = pattern.includes('*') ? this.patterns.get(pattern)?.subscribers : this.exact.get(pattern);
    if (!set?.delete(subscriber)) return false;
    if (set.size === 0) {
      this.exact.delete(pattern);
      this.patterns.delete(pattern);
    }
    this.cache.clear();
    return true;
  }

  /** Subscribers whose patterns match `topic`, each once. */
  match(topic: string): S[] {
    let found = this.cache.get(topic);
    if (found) return found;
    const set = new Set<S>(this.exact.get(topic));
    for (const { compiled, subscribers } of this.patterns.values()) {
      if (matchesTopic(compiled, topic)) for (const s of subscribers) set.add(s);
    }
    found = [...set];
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, found);
    return found;
  }
}
