/**
 * Pub/sub topics. A topic is a dot-separated name (`market.BTC.trade`); a subscription pattern
 * may use `*` for one segment (or part of one: `price*`) and `**` for any number of segments
 * (`breaker.**`). Publishing resolves the matching subscribers once per topic and caches the
 * list until subscriptions change.
 */
import { ConfigError } from './errors.js';

export interface ActorEvent<T = unknown> {
  topic: string;
  data: T;
  /** Path of the publishing actor, if any. */
  source?: string;
}

interface Pattern<S> {
  regex: RegExp;
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

function compile(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        i++;
      } else source += '[^.]*';
    } else source += /[\\^$.|?+()[\]{}]/.test(c) ? '\\' + c : c;
  }
  return new RegExp(`^${source}$`);
}

export class EventBus<S> {
  private readonly exact = new Map<string, Set<S>>();
  private readonly patterns = new Map<string, Pattern<S>>();
  private readonly cache = new Map<string, S[]>();

  subscribe(subscriber: S, pattern: string): void {
    checkTopic(pattern);
    if (pattern.includes('*')) {
      let entry = this.patterns.get(pattern);
      if (!entry) this.patterns.set(pattern, (entry = { regex: compile(pattern), subscribers: new Set() }));
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
    for (const { regex, subscribers } of this.patterns.values()) {
      if (regex.test(topic)) for (const s of subscribers) set.add(s);
    }
    found = [...set];
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, found);
    return found;
  }
}
