/**
 * Exponential backoff with jitter: the one rule behind a supervisor's restart delay, a breaker's
 * open period and a retry's wait.
 *
 *     nominal = min(maxMs, baseMs × factor^step)
 *     delay   = nominal × (1 − jitter × u), clamped to [0, maxMs]
 *
 * with u drawn from `random()` (uniform [0, 1)) by the jitter convention:
 * - `'down'` (breakers, retries): u = r — up to `jitter` of the delay is taken off, so the
 *   nominal value is the most anyone waits and callers spread out below it;
 * - `'both'` (supervisor restarts): u = 1 − 2r — the delay is scaled by a factor in
 *   [1 − jitter, 1 + jitter], still never above maxMs.
 * Exactly one `random()` per delay, whatever the jitter (a seeded source shared with other users
 * stays in step).
 */

export interface BackoffPolicy {
  /** Delay of step 0, ms. */
  baseMs: number;
  /** Cap of the nominal delay (and of the jittered one), ms. */
  maxMs: number;
  /** Growth per step (≥ 1). */
  factor: number;
  /** Random spread, 0…1 (see `jitterMode`). */
  jitter: number;
  /** 'down': minus up to `jitter` of the delay (default); 'both': ± `jitter` of it. */
  jitterMode?: 'down' | 'both';
}

/** The delay at `step` (0 for the first) before jitter. */
export function nominalBackoff(step: number, policy: Pick<BackoffPolicy, 'baseMs' | 'maxMs' | 'factor'>): number {
  return Math.min(policy.maxMs, policy.baseMs * policy.factor ** step);
}

/** The delay at `step` (0 for the first), jitter drawn from `random` (uniform [0, 1)). */
export function backoffDelay(step: number, policy: BackoffPolicy, random: () => number): number {
  const nominal = nominalBackoff(step, policy);
  const r = random();
  const u = policy.jitterMode === 'both' ? 1 - 2 * r : r;
  return Math.min(policy.maxMs, Math.max(0, nominal * (1 - policy.jitter * u)));
}
