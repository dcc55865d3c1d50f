/**
 * `.kill <path>`: an operator's crash of one actor, which its supervisor handles like any other
 * (restart under its strategy, counted against its intensity, escalation beyond it). The crash
 * happens in the actor's own turn — after the handler in progress, as a snapshot rollback does —
 * so no handler is cut short and no message is lost; it is not a handler failing, so nothing
 * goes to dead letters. A turn that does not come within `timeoutMs` (a handler that hangs)
 * cancels the kill.
 */
import { cellOf } from '../core/cell.js';
import type { ActorRef } from '../core/ref.js';

/** The error the killed actor's supervisor sees (and logs in its crash report). */
export class KilledByOperator extends Error {
  constructor(path: string) {
    super(`${path} killed by an operator (REPL .kill)`);
    this.name = 'KilledByOperator';
  }
}

/** Crashes the actor behind `ref` in its next turn; resolves once it has crashed. */
export async function killActor(ref: ActorRef, timeoutMs: number): Promise<void> {
  const cell = cellOf(ref);
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  // 'supervision' is crash()'s name for a failure that is not a handler's: no message to dead-letter.
  const crashed = cell.runInTurn(() => {
    if (!cancelled) cell.crash(new KilledByOperator(cell.path), undefined, undefined, 'supervision');
  });
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancelled = true;
      reject(new Error(`${cell.path} did not reach its turn within ${timeoutMs} ms (a handler in flight holds it): kill cancelled`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([crashed, late]);
  } finally {
    clearTimeout(timer);
    crashed.catch(() => {}); // cancelled, or the actor stopped meanwhile: nothing more to report
  }
}
