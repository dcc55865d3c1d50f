/**
 * Adopting what a handler returned — the one place the runtime looks at a handler's, init's or
 * terminate's result. A plain value is used at once; a thenable is awaited. Reading `then` or
 * calling it may itself throw, or a foreign thenable may call back synchronously or twice: all of
 * that is the handler failing or settling, handled by the Promise rules (first call wins, a throw
 * rejects, callbacks always asynchronous) — never an exception thrown into the scheduler.
 */
const nativeThen = Promise.prototype.then;

/**
 * Whether `result` must be adopted (a thenable — or something whose `then` cannot even be read):
 * the hot-path check, so that a plain state allocates no callbacks for `adopt`.
 */
export function isThenable(result: unknown): boolean {
  if (result === null || (typeof result !== 'object' && typeof result !== 'function')) return false;
  try {
    return typeof (result as { then?: unknown }).then === 'function';
  } catch {
    return true; // adopt turns the throw into a rejection
  }
}

/**
 * If `result` is a thenable, arranges for `fulfilled` or `rejected` to be called once it settles
 * (never synchronously) and returns true; returns false for a plain value.
 */
export function adopt(result: unknown, fulfilled: (value: unknown) => void, rejected: (error: unknown) => void): boolean {
  if (result === null || (typeof result !== 'object' && typeof result !== 'function')) return false;
  let then: unknown;
  try {
    then = (result as { then?: unknown }).then;
  } catch (error) {
    nativeThen.call(Promise.reject(error), undefined, rejected);
    return true;
  }
  if (typeof then !== 'function') return false;
  // A native promise (the common case: an async handler) is followed directly — if it really is
  // one: an object that merely inherits Promise.prototype makes the native `then` throw. Anything
  // else is resolved through a new promise, which applies the spec's rules to a broken thenable.
  if (then === nativeThen) {
    try {
      nativeThen.call(result, fulfilled, rejected);
      return true;
    } catch {
      // not a promise after all: adopted below, where its `then` rejects
    }
  }
  nativeThen.call(new Promise((resolve) => resolve(result)), fulfilled, rejected);
  return true;
}
