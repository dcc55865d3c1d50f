/**
 * What a contestant is to the driver: it starts, takes order intents with a caller deadline and
 * answers each with a claim, and at the end hands over its final portfolio state and counters.
 * The judge (judge.ts) checks each claim against the world's records.
 */
import type { Fill, Intent, World } from './world.js';

/** What the contestant told its caller about one intent. */
export type Claim =
  | { status: 'filled'; fill: Fill }
  /** A marked fallback or refusal: the contestant says it did not place the order, and why. */
  | { status: 'not-placed'; reason: string }
  /** A typed error or reason, not a fallback. */
  | { status: 'failed'; reason: string };

/** What a contestant hands over at the end. */
export interface ContestantReport {
  /** Order ids in the final portfolio state. */
  booked: string[];
  /** Component restarts (Genesis: `actor.restarted` events; the port: checkpoint restores). */
  restarts: number;
  /** Modes entered, in order, with how many times ('–' when the contestant has none). */
  modes: string[];
  /** Free-form counters for the report (error codes, breaker transitions, dead letters…). */
  diagnostics: Record<string, number | string>;
}

export interface Contestant {
  readonly name: string;
  start(): Promise<void>;
  /** Never rejects: every failure is a claim. `deadlineMs`: how long the caller waits. */
  submit(intent: Intent, deadlineMs: number): Promise<Claim>;
  /** Reads the final state (the run's process exits after it). */
  finish(): Promise<ContestantReport>;
}

export type ContestantFactory = (world: World, seed: number) => Contestant;

/** The code of an error (a Genesis error's `code`, else its name), for reasons and counters. */
export function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof error;
}

/** The code, the actor's path when the error names one, and whether it crashed: a claim's reason. */
export function describe(error: unknown): string {
  const path = typeof error === 'object' && error !== null ? (error as { path?: unknown }).path : undefined;
  const crashed = typeof error === 'object' && error !== null && (error as { crashed?: unknown }).crashed === true;
  return `${codeOf(error)}${typeof path === 'string' ? ` ${path}` : ''}${crashed ? ' (crashed)' : ''}`;
}

/** Increments a counter of a diagnostics record. */
export function bump(counters: Record<string, number | string>, key: string, by = 1): void {
  const value = counters[key];
  counters[key] = (typeof value === 'number' ? value : 0) + by;
}
