/**
 * The peers' side of the benchmarks: the same small actors written for nact 7 and XState v5,
 * plus the "Node floor" — the least work plain Node code needs for the same job.
 *
 * nact 7 (read from node_modules/nact/lib): `dispatch` to an idle actor schedules the handler
 * with setImmediate, and after each message the next one is taken on a new setImmediate, so an
 * actor handles at most one message per event-loop iteration. `query` adds a temporary
 * reference, a Deferral and a setTimeout per call. That is its normal configuration.
 *
 * XState v5: `actor.send(event)` processes the event synchronously when the actor is not already
 * processing one, so there is no mailbox to drain; events must be objects with a `type`. XState
 * has no request/reply primitive (send returns void; answering needs a second actor with
 * sendTo/emit and a hand-made correlation), so the ask benchmarks mark it n/a.
 */
import nact, { type ActorSystemRef, type Ref } from 'nact';
import { assign, fromTransition, setup } from 'xstate';

// ---- nact ------------------------------------------------------------------------------

/** nact refs are opaque; its typings cannot type a reply channel, so refs are kept loose here. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type NactRef = Ref<any>;
export type NactSystem = ActorSystemRef;

export const NACT_TIMEOUT_MS = 30_000;

type NactCounterMessage = number | { sender: NactRef };

/** A counter as a nact reducer: adds numbers; replies with the total to `{ sender }`. */
function nactCounter(total: number, message: NactCounterMessage): number {
  if (typeof message === 'number') return total + message;
  nact.dispatch(message.sender, total);
  return total;
}

/** An echo: replies `n` to the query's sender. */
function nactEcho(_state: undefined, message: { sender: NactRef; n: number }): undefined {
  nact.dispatch(message.sender, message.n);
  return undefined;
}

export function nactStart(): NactSystem {
  return nact.start();
}

/** nact's default names are random 32-bit numbers, which collide among 100k actors: name them. */
export function nactSpawnCounter(system: NactSystem, name: string): NactRef {
  return nact.spawn(system, nactCounter, name, { initialState: 0 });
}

export function nactSpawnEcho(system: NactSystem, name: string): NactRef {
  return nact.spawn(system, nactEcho, name);
}

export function nactTell(ref: NactRef, n: number): void {
  nact.dispatch(ref, n);
}

export function nactTotal(ref: NactRef): Promise<number> {
  return nact.query(ref, (sender: NactRef) => ({ sender }), NACT_TIMEOUT_MS) as Promise<number>;
}

export function nactAsk(ref: NactRef, n: number): Promise<number> {
  return nact.query(ref, (sender: NactRef) => ({ sender, n }), NACT_TIMEOUT_MS) as Promise<number>;
}

/** Stops the system; its actors finish stopping on setImmediate. */
export function nactStop(system: NactSystem): void {
  nact.stop(system);
}

// ---- XState ----------------------------------------------------------------------------

export interface Inc {
  type: 'inc';
  n: number;
}

export const transitionCounter = fromTransition((total: number, event: Inc) => total + event.n, 0);

export const machineCounter = setup({
  types: {} as { context: { total: number }; events: Inc },
}).createMachine({
  context: { total: 0 },
  initial: 'counting',
  states: {
    counting: {
      on: { inc: { actions: assign({ total: ({ context, event }) => context.total + event.n }) } },
    },
  },
});

// ---- Node floor ------------------------------------------------------------------------

/**
 * The floor for an ask: a request queue drained on one microtask, each request resolving its
 * promise. No timeouts, no mailbox, no actor — what a promise round trip costs at the least.
 */
export class FloorServer {
  private queue: unknown[] = [];
  private scheduled = false;

  ask(n: number): Promise<number> {
    return new Promise((resolve) => {
      this.queue.push(n, resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(this.drain);
      }
    });
  }

  private readonly drain = (): void => {
    const queue = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (let i = 0; i < queue.length; i += 2) (queue[i + 1] as (n: number) => void)(queue[i] as number);
  };
}
