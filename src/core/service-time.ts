/**
 * How long an actor holds its mailbox per ask — its service time, not the time asks spent
 * queued — and the admission rule built on it: an ask that would wait in the queue past its own
 * deadline is refused at once with OverloadedError instead of timing out later. Overload is
 * refused early and cheaply; the caller can degrade at once (a fallback, another venue) rather
 * than discover it by a timeout, retry, and multiply it.
 *
 * Sampling keeps it off the hot path: a synchronous handler is timed for one ask in
 * SYNC_SAMPLE (a clock read costs a tenth of an ask); an asynchronous one (it returned a
 * promise: its time is what matters and a clock read is nothing beside it) for every ask. The
 * mean is an exponentially weighted average, so a target that slows down is seen within a few
 * asks. The time a handler holds the mailbox is what the queue behind it waits for: a forwarder
 * that defers its reply holds it only until its handler returns.
 */

/** One synchronous ask in SYNC_SAMPLE is timed (a power of two). */
const SYNC_SAMPLE = 8;
/** Weight of a new sample in the mean. */
const ALPHA = 0.25;
/** A sample counts for at most this many times the mean. */
const OUTLIER = 4;

export class ServiceTime {
  /** Mean time the mailbox is held per ask, ms; 0 until the first sample. */
  ms = 0;
  /** Start of the ask being timed, -1 when it is not timed. */
  startedAt = -1;
  private handled = 0;

  /** An ask is about to be handled: true when this one should be timed from now. */
  sampleNext(): boolean {
    return (++this.handled & (SYNC_SAMPLE - 1)) === 0;
  }

  record(ms: number): void {
    this.startedAt = -1;
    const mean = this.ms;
    if (mean === 0) this.ms = ms;
    else {
      // One stalled handler must not make the actor refuse everything for a while: a sample
      // counts for at most OUTLIER × the mean. A real slowdown still shows within a few asks
      // (the mean can grow by 75 % per sample).
      const sample = Math.min(ms, OUTLIER * mean);
      this.ms = mean + ALPHA * (sample - mean);
    }
  }

  /**
   * Would an ask that finds `ahead` messages before it (the handler in flight included) miss a
   * deadline `timeoutMs` away? Its own handling counts too: the answer is due by then.
   */
  wouldMiss(ahead: number, timeoutMs: number): boolean {
    return (ahead + 1) * this.ms > timeoutMs;
  }
}
