/** The counters of a resilient() wrapper (`call.stats`), written by its tries and its policies. */

export interface ResilientStats {
  /** Calls of the wrapper. */
  calls: number;
  /** Tries started (first tries and retries). */
  tries: number;
  /** Tries that succeeded (a call succeeds iff its last try did, or its fallback answered). */
  successes: number;
  /** Tries that failed: errors, timeouts, refusals by an open breaker. */
  failures: number;
  timeouts: number;
  /** Tries refused (or short-circuited to the fallback) by an open breaker. */
  rejected: number;
  retries: number;
  /** Retries not made because the retry budget could not pay for them. */
  retriesRefused: number;
  /** Calls refused at once by a full bulkhead (OverloadedError, or the fallback). */
  overloaded: number;
  /** Hedged attempts started. */
  hedges: number;
  /** Degraded successes: calls answered by the fallback. */
  fallbacks: number;
  /** Fallbacks that threw. */
  fallbackFailures: number;
}

export function newStats(): ResilientStats {
  return {
    calls: 0,
    tries: 0,
    successes: 0,
    failures: 0,
    timeouts: 0,
    rejected: 0,
    retries: 0,
    retriesRefused: 0,
    overloaded: 0,
    hedges: 0,
    fallbacks: 0,
    fallbackFailures: 0,
  };
}
