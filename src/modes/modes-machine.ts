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

export const modesMachine = setup({
  types: {} as { context: ModesContext; events: ModesEvent; input: ModeThresholds },
  guards: {
    emergencyLevel: ({ context, event }) => level(context, event, 'emergencyAt'),
    safeLevel: ({ context, event }) => level(context, event, 'safeAt'),
    preSafeLevel: ({ context, event }) => level(context, event, 'preSafeAt'),
    slow: ({ context, event }) => event.type === 'health' && !context.pinned && event.slow,
    recovered: ({ context, event }) => settled(context, event),
    notPinned: ({ context }) => !context.pinned,
    toNormal: ({ event }) => event.type === 'set' && event.mode === 'normal',
    toPreSafe: ({ event }) => event.type === 'set' && event.mode === 'preSafe',
    toSafe: ({ event }) => event.type === 'set' && event.mode === 'safe',
    toEmergency: ({ event }) => event.type === 'set' && event.mode === 'emergency',
    toRecovery: ({ event }) => event.type === 'set' && event.mode === 'recovery',
    toLatency: ({ event }) => event.type === 'set' && event.mode === 'latency',
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
    set: [
      { guard: 'toNormal', target: '.normal', actions: ['pin', 'entered'] },
      { guard: 'toPreSafe', target: '.preSafe', actions: ['pin', 'entered'] },
      { guard: 'toSafe', target: '.safe', actions: ['pin', 'entered'] },
      { guard: 'toEmergency', target: '.emergency', actions: ['pin', 'entered'] },
      { guard: 'toRecovery', target: '.recovery', actions: ['pin', 'entered'] },
      { guard: 'toLatency', target: '.latency', actions: ['pin', 'entered'] },
    ],
    auto: { actions: 'unpin' },
  },
  states: {
    normal: {
      on: {
        health: [
          { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' },
          { guard: 'safeLevel', target: 'safe', actions: 'entered' },
          { guard: 'preSafeLevel', target: 'preSafe', actions: 'entered' },
          { guard: 'slow', target: 'latency', actions: 'entered' },
          { actions: 'trackHealth' },
        ],
        escalated: { guard: 'notPinned', target: 'safe', actions: 'entered' },
      },
    },
    latency: {
      on: {
        health: [
          { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' },
          { guard: 'safeLevel', target: 'safe', actions: 'entered' },
          { guard: 'preSafeLevel', target: 'preSafe', actions: 'entered' },
          { guard: 'recovered', target: 'normal', actions: 'entered' },
          { actions: 'trackHealth' },
        ],
        escalated: { guard: 'notPinned', target: 'safe', actions: 'entered' },
      },
    },
    preSafe: {
      on: {
        health: [
          { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' },
          { guard: 'safeLevel', target: 'safe', actions: 'entered' },
          { guard: 'recovered', target: 'normal', actions: 'entered' },
          { actions: 'trackHealth' },
        ],
        escalated: { guard: 'notPinned', target: 'safe', actions: 'entered' },
      },
    },
    safe: {
      on: {
        health: [
          { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' },
          { guard: 'recovered', target: 'recovery', actions: 'entered' },
          { actions: 'trackHealth' },
        ],
      },
    },
    emergency: {
      on: {
        health: [{ guard: 'recovered', target: 'safe', actions: 'entered' }, { actions: 'trackHealth' }],
      },
    },
    recovery: {
      on: {
        health: [
          { guard: 'emergencyLevel', target: 'emergency', actions: 'entered' },
          { guard: 'safeLevel', target: 'safe', actions: 'entered' },
          { guard: 'recovered', target: 'normal', actions: 'entered' },
          { actions: 'trackHealth' },
        ],
        escalated: { guard: 'notPinned', target: 'safe', actions: 'entered' },
      },
    },
  },
});
