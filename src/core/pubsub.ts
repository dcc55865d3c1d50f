/**
 * Pub/sub among the actors of one system: topics and patterns (events.ts matches them), events
 * delivered asynchronously to each subscriber's mailbox, never back to the publisher.
 */
import { ConfigError, SystemStoppedError } from '../util/errors.js';
import { checkObject, knownKeys } from '../util/options.js';
import type { PublishOptions } from './actor.js';
import { type ActorCell, cellOf, EVENT } from './cell.js';
import { type ActorEvent, checkTopic, EventBus } from './events.js';
import { DEFAULT_PRIORITY } from './mailbox.js';
import { ActorRef, checkPriority } from './ref.js';

/** What pub/sub needs of the system. */
export interface PubSubHost {
  readonly name: string;
  readonly isStopped: boolean;
  lookup(path: string): ActorRef | undefined;
}

export class PubSub {
  private readonly bus = new EventBus<ActorCell>();
  /** Events published, and those that found no subscriber. */
  published = 0;
  unrouted = 0;

  constructor(private readonly host: PubSubHost) {}

  /** Publishes to every subscriber whose pattern matches, except the source actor. */
  publish(topic: string, data: unknown, options?: PublishOptions): void {
    let source: ActorCell | null = null;
    let sourcePath: string | undefined;
    let priority = DEFAULT_PRIORITY;
    if (options !== undefined) {
      checkObject('publish options', options);
      knownKeys('publish options', options, ['source', 'priority']);
      priority = checkPriority(options);
      if (options.source instanceof ActorRef) {
        source = cellOf(options.source);
        sourcePath = source.path;
      } else if (options.source !== undefined) {
        sourcePath = String(options.source);
        const found = this.host.lookup(sourcePath);
        source = found === undefined ? null : cellOf(found);
      }
    }
    this.deliverEvent(topic, data, source, sourcePath, priority);
  }

  publishFrom(topic: string, data: unknown, source: ActorCell, priority: number): void {
    this.deliverEvent(topic, data, source, source.path, priority);
  }

  private deliverEvent(topic: string, data: unknown, source: ActorCell | null, sourcePath: string | undefined, priority: number): void {
    checkTopic(topic);
    if (topic.includes('*')) throw new ConfigError('topic', `cannot publish to a pattern (got "${topic}")`);
    if (this.host.isStopped) throw new SystemStoppedError(this.host.name);
    this.published++;
    const event: ActorEvent = sourcePath === undefined ? { topic, data } : { topic, data, source: sourcePath };
    let delivered = 0;
    for (const cell of this.bus.match(topic)) {
      if (cell === source) continue; // never back to the publisher
      cell.deliver(priority, event, EVENT);
      delivered++;
    }
    if (delivered === 0) this.unrouted++;
  }

  /** Subscribes an actor (which must define onEvent) to a topic or pattern. */
  subscribe(ref: ActorRef, topic: string): void {
    if (!(ref instanceof ActorRef)) throw new ConfigError('subscribe(ref)', 'must be an ActorRef');
    checkTopic(topic);
    const cell = cellOf(ref);
    if (cell.behavior.onEvent === undefined) throw new ConfigError('subscribe', `${cell.path} has no onEvent handler`);
    if (!cell.isActive) return;
    const topics = cell.topics;
    if (topics.includes(topic)) return;
    topics.push(topic);
    this.bus.subscribe(cell, topic);
  }

  unsubscribe(ref: ActorRef, topic: string): boolean {
    if (!(ref instanceof ActorRef)) throw new ConfigError('unsubscribe(ref)', 'must be an ActorRef');
    if (typeof topic !== 'string') throw new ConfigError('topic', `must be a string (got ${typeof topic})`);
    const cell = cellOf(ref);
    const topics = cell.topics;
    const i = topics.indexOf(topic);
    if (i < 0) return false;
    topics.splice(i, 1);
    return this.bus.unsubscribe(cell, topic);
  }
}
