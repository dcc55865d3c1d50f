/**
 * System modes as an XState v5 machine: `normal → preSafe → safe → emergency`, plus `latency`
 * (slow but not failing) and `recovery` (stepping down after the signals stayed healthy). The
 * machine is pure: time arrives in the `health` events (`now`), so it runs on any clock and
 * tests drive it directly. Hysteresis: it steps up as soon as the pressure reaches a level's
 * threshold, and down one level at a time, only after the signals stayed below `preSafeAt` for
 * `recoverAfterMs`. A mode set by hand is pinned until `auto`.
 */
import { assign, setup } from 'xstate';

export type Mode = 'normal' | 'preSafe' | 'safe' | 'emergency' | 'recovery' | 'latency';
export const MODES: readonly Mode[] = ['normal', 'preSafe', 'safe', 'emergency', 'recovery', 'latency'];

export interface ModeThresholds {
  /** Pressure at which the system warns (preSafe). */
  preSafeAt: number;
  /** Pressure at which non-essential actors defer priorities 3–4 (safe). */
  safeAt: number;
  /** Pressure at which only essential actors run (emergency). */
  emergencyAt: number;
  /** How long the signals must stay healthy before stepping down one level, ms. */
  recoverAfterMs: number;
}

export type ModesEvent =
  /** A sample of the health signals: `pressure` (weighted failures in the window), `slow`. */
  | { type: 'health'; now: number; pressure: number; slow: boolean; reason: string }
  /** An escalation reached the root: at least safe. */
  | { type: 'escalated'; now: number; reason: string }
  /** An operator's choice, pinned until `auto`. */
  | { type: 'set'; mode: Mode; now: number; reason: string }
  | { type: 'auto'; now: number; reason: string };

export interface ModesContext {
  thresholds: ModeThresholds;
  pinned: boolean;
  /** Since when the signals have been healthy (pressure below preSafeAt, not slow); -1: not. */
  healthySince: number;
  /** Why the last transition happened. */
  reason: string;
}

const healthy = (c: ModesContext, e: ModesEvent) => e.type === 'health' && e.pressure < c.thresholds.preSafeAt && !e.slow;
const level = (c: ModesContext, e: ModesEvent, at: keyof ModeThresholds) => e.type === 'health' && !c.pinned && e.pressure >= c.thresholds[at];
const settled = (c: ModesContext, e: ModesEvent) => !c.pinned && healthy(c, e) && c.healthySince >= 0 && e.now - c.healthySince >= c.thresholds.recoverAfterMs;

// The transitions most states share, named once (the states below read as their order).
const toEmergency = { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' } as const;
const toSafe = { guard: 'safeLevel', target: 'safe', actions: 'entered' } as const;
const toPreSafe = { guard: 'preSafeLevel', target: 'preSafe', actions: 'entered' } as const;
const keepWatching = { actions: 'trackHealth' } as const;
const escalatedToSafe = { guard: 'notPinned', target: 'safe', actions: 'entered' } as const;

export const modesMachine = setup({
  types: {} as { context: ModesContext; events: ModesEvent; input: ModeThresholds },
  guards: {
    emergencyLevel: ({ context, event }) => level(context, event, 'emergencyAt'),
    safeLevel: ({ context, event }) => level(context, event, 'safeAt'),
    preSafeLevel: ({ context, event }) => level(context, event, 'preSafeAt'),
    slow: ({ context, event }) => event.type === 'health' && !context.pinned && event.slow,
    recovered: ({ context, event }) => settled(context, event),
    notPinned: ({ context }) => !context.pinned,
    setTo: ({ event }, params: { mode: Mode }) => event.type === 'set' && event.mode === params.mode,
  },
  actions: {
    trackHealth: assign({
      healthySince: ({ context, event }) => (healthy(context, event) ? (context.healthySince >= 0 ? context.healthySince : event.now) : -1),
    }),
    /** A new mode: the healthy period starts over (stepping down again takes a full period). */
    entered: assign({ healthySince: -1, reason: ({ event }) => event.reason }),
    pin: assign({ pinned: true }),
    unpin: assign({ pinned: false, healthySince: -1 }),
  },
}).createMachine({
  id: 'modes',
  context: ({ input }) => ({ thresholds: input, pinned: false, healthySince: -1, reason: 'start' }),
  initial: 'normal',
  on: {
    set: MODES.map((mode) => ({ guard: { type: 'setTo' as const, params: { mode } }, target: `.${mode}`, actions: ['pin' as const, 'entered' as const] })),
    auto: { actions: 'unpin' },
  },
  states: {
    normal: {
      on: {
        health: [toEmergency, toSafe, toPreSafe, { guard: 'slow', target: 'latency', actions: 'entered' }, keepWatching],
        escalated: escalatedToSafe,
      },
    },
    latency: {
      on: {
        health: [toEmergency, toSafe, toPreSafe, { guard: 'recovered', target: 'normal', actions: 'entered' }, keepWatching],
        escalated: escalatedToSafe,
      },
    },
    preSafe: {
      on: {
        health: [toEmergency, toSafe, { guard: 'recovered', target: 'normal', actions: 'entered' }, keepWatching],
        escalated: escalatedToSafe,
      },
    },
    safe: {
      on: {
        health: [toEmergency, { guard: 'recovered', target: 'recovery', actions: 'entered' }, keepWatching],
      },
    },
    emergency: {
      on: {
        health: [{ guard: 'recovered', target: 'safe', actions: 'entered' }, keepWatching],
      },
    },
    recovery: {
      on: {
        health: [toEmergency, toSafe, { guard: 'recovered', target: 'normal', actions: 'entered' }, keepWatching],
        escalated: escalatedToSafe,
      },
    },
  },
});
