/**
 * Snapshots on demand: a checkpoint of many actors within a time budget, and a rollback applied
 * in the actor's own turn — both bounded on the system clock, so a handler that never settles
 * cannot hang the caller.
 */
import type { ActorCell } from '../core/cell.js';
import type { Clock } from '../util/clock.js';
import { CheckpointError, TimeoutError } from '../util/errors.js';
import { type CheckpointOutcome, type Snapshots, slotOf } from './snapshots.js';

/**
 * system.checkpoint(): the seq of each cell's snapshot by path, or CheckpointError naming the
 * cells that could not be snapshotted (the others are committed all the same).
 */
export async function checkpoint(snapshots: Snapshots, cells: readonly ActorCell[], timeoutMs: number, clock: Clock): Promise<Record<string, number>> {
  const { seqs, missed } = await snapshotAll(snapshots, cells, timeoutMs, clock);
  if (Object.keys(missed).length > 0) throw new CheckpointError(seqs, missed);
  return seqs;
}

/**
 * Snapshots each cell (after the handler in progress, as ctx.snapshotNow()) and settles once
 * each is committed or failed, or after `timeoutMs` on the system clock, whichever is first.
 * A cell still waiting then is missed; its snapshot is still taken if its handler ever ends.
 */
export function snapshotAll(snapshots: Snapshots, cells: readonly ActorCell[], timeoutMs: number, clock: Clock): Promise<CheckpointOutcome> {
  const outcome: CheckpointOutcome = { seqs: {}, missed: {} };
  if (cells.length === 0) return Promise.resolve(outcome);
  return new Promise((resolve) => {
    const waiting = new Map<ActorCell, (seq: number) => void>();
    const finish = () => {
      if (waiting.size > 0) return;
      clock.clearTimeout(timer);
      resolve(outcome);
    };
    const timer = clock.setTimeout(() => {
      for (const [cell, settle] of waiting) {
        const slot = slotOf(cell);
        const at = slot.waiters?.indexOf(settle) ?? -1;
        if (at >= 0) slot.waiters!.splice(at, 1); // nobody waits for it any more
        outcome.missed[cell.path] = cell.inHandler
          ? `not snapshotted within ${timeoutMs} ms: its handler in progress has not finished`
          : `not committed within ${timeoutMs} ms`;
      }
      waiting.clear();
      resolve(outcome);
    }, timeoutMs);
    for (const cell of cells) {
      const slot = slotOf(cell);
      const settle = (seq: number) => {
        if (!waiting.delete(cell)) return; // timed out already
        if (seq >= 0) outcome.seqs[cell.path] = seq;
        else outcome.missed[cell.path] = slot.failure || 'no snapshot was taken';
        finish();
      };
      waiting.set(cell, settle);
      if (cell.inHandler) {
        slot.wanted = true;
        (slot.waiters ??= []).push(settle);
      } else void snapshots.take(cell).then(settle);
    }
  });
}

/**
 * system.restore(): sets the state of one of the actor's own snapshots in the actor's turn,
 * after the handler in progress. TimeoutError after `timeoutMs` on the system clock if that turn
 * has not come (a handler that does not settle); the rollback is then cancelled, never applied
 * later behind the caller's back.
 */
export function rollbackInTurn(snapshots: Snapshots, cell: ActorCell, seq: number | undefined, timeoutMs: number, clock: Clock): Promise<void> {
  const state = snapshots.rollback(cell, seq);
  return new Promise<void>((resolve, reject) => {
    let pending = true;
    const timer = clock.setTimeout(() => {
      if (!pending) return;
      pending = false;
      const error = new TimeoutError(cell.path, timeoutMs);
      error.message = `restore of ${cell.path} timed out after ${timeoutMs} ms: its handler in progress has not finished; nothing was rolled back`;
      reject(error);
    }, timeoutMs);
    const settle = (error?: unknown) => {
      if (!pending) return;
      pending = false;
      clock.clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    cell
      .runInTurn(() => {
        if (!pending) return; // timed out: the caller was told nothing happened
        cell.state = state;
        cell.log.info({ seq: seq ?? 'latest' }, `${cell.path} rolled back to a snapshot`);
        settle();
      })
      .catch(settle); // stopped before its turn came
  });
}
