/**
 * Which actor's async handler is running, across its awaits. A `ref.ask` made after an `await`
 * inside a handler has no synchronous caller to read; the handler's run, carried by
 * AsyncLocalStorage, says which actor is waiting — so deadlock detection sees that ask too.
 *
 * Only handlers written as `async` functions are tracked (known up front, at defineActor): sync
 * handlers are identified by the scheduler for free, and no storage exists — so no async hooks
 * run — until the first async handler does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** One run of an async handler; it identifies its actor while that handler is still running. */
export interface HandlerRun {
  readonly owner: object;
}

let storage: AsyncLocalStorage<HandlerRun> | undefined;

/** Calls `fn` with `run` as the current handler run for everything it awaits. */
export function runTracked<T>(run: HandlerRun, fn: () => T): T {
  return (storage ??= new AsyncLocalStorage<HandlerRun>()).run(run, fn);
}

/**
 * Runs `fn` outside any handler run: for the runtime's own loops (the scheduler's drain), which
 * would otherwise inherit the run of whichever handler queued them and lend it to other actors.
 */
export function untracked<T>(fn: () => T): T {
  return storage === undefined ? fn() : storage.exit(fn);
}

/** The handler run the current code belongs to, if any. */
export function trackedRun(): HandlerRun | undefined {
  return storage === undefined ? undefined : storage.getStore();
}

const AsyncFunction = (async () => {}).constructor;

export function isAsyncFunction(fn: unknown): boolean {
  return fn instanceof AsyncFunction;
}
