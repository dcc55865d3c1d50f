/**
 * The system's mode, driven by its health: restarts, escalations that reached the root, open
 * breakers (essential ones weigh more) and refusals, counted over a sliding window into one
 * pressure figure, and latency (breakers `hedging`: slow but answering, which makes `slow`) that `modesMachine` turns into a mode (see modes-machine.ts). The sampler runs
 * only while there is something to watch — a recent failure, an open breaker, or a mode other
 * than normal — so an idle or healthy system keeps no timer.
 *
 * What a mode does is the host's business (system.ts): safe and recovery make non-essential
 * actors defer priorities 3–4, emergency parks them — delayed, never failed.
 */
import { createActor } from 'xstate';
import type { Clock } from '../util/clock.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber } from '../util/options.js';
import { type Mode, MODES, type ModeThresholds, modesMachine } from './modes-machine.js';

export interface ModesOptions extends Partial<ModeThresholds> {
  /** The window the signals are counted over, ms (default 1000). */
  windowMs?: number;
  /** How often the signals are sampled while something is to be watched, ms (default 250). */
  sampleMs?: number;
}

export interface ResolvedModes extends ModeThresholds {
  windowMs: number;
  sampleMs: number;
  /** `modes: false`: only setMode changes the mode (no health signals, no escalation). */
  manual: boolean;
}

const DEFAULTS: ResolvedModes = Object.freeze({ preSafeAt: 10, safeAt: 25, emergencyAt: 100, recoverAfterMs: 2000, windowMs: 1000, sampleMs: 250, manual: false });
const KEYS = ['preSafeAt', 'safeAt', 'emergencyAt', 'recoverAfterMs', 'windowMs', 'sampleMs'] as const;

/** Validates `ActorSystem.start({ modes })` (a ConfigError names the option). */
export function resolveModes(options: ModesOptions | false | undefined): ResolvedModes {
  if (options === undefined) return DEFAULTS;
  if (options === false) return Object.freeze({ ...DEFAULTS, manual: true });
  checkObject('modes', options);
  knownKeys('modes', options, KEYS);
  const resolved = { ...DEFAULTS };
  for (const key of KEYS) {
    if (options[key] !== undefined) resolved[key] = positiveNumber(`modes.${key}`, options[key]);
  }
  if (!(resolved.preSafeAt <= resolved.safeAt && resolved.safeAt <= resolved.emergencyAt)) {
    throw new ConfigError('modes', `thresholds must rise: preSafeAt ≤ safeAt ≤ emergencyAt (got ${resolved.preSafeAt}, ${resolved.safeAt}, ${resolved.emergencyAt})`);
  }
  return Object.freeze(resolved);
}

/** Checks a mode name given to `system.setMode`. */
export function checkMode(mode: unknown): Mode | 'auto' {
  if (mode === 'auto' || MODES.includes(mode as Mode)) return mode as Mode | 'auto';
  throw new ConfigError('mode', `must be one of ${[...MODES, 'auto'].join(', ')} (got ${String(mode)})`);
}

/** How much each signal weighs in the pressure (per event in the window, per open breaker). */
const WEIGHT = { restart: 1, escalation: 6, refusal: 0.1, openBreaker: 2, openEssential: 5 } as const;

export class Modes {
  private readonly actor;
  private timer: unknown = null;
  /** Times of recent events, oldest first, by signal. */
  private readonly events = { restart: [] as number[], escalation: [] as number[], refusal: [] as number[] };
  private openBreakers = 0;
  private stopped = false;
  private openEssential = 0;
  private slowBreakers = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: ResolvedModes,
    /** Called on every change of mode, after it happened. */
    onChange: (from: Mode, to: Mode, reason: string) => void,
  ) {
    this.actor = createActor(modesMachine, { input: options });
    let current: Mode = 'normal';
    this.actor.subscribe((snapshot) => {
      const next = snapshot.value as Mode;
      if (next === current) return;
      const from = current;
      current = next;
      onChange(from, next, snapshot.context.reason);
    });
    this.actor.start();
  }

  get mode(): Mode {
    return this.actor.getSnapshot().value as Mode;
  }

  get pinned(): boolean {
    return this.actor.getSnapshot().context.pinned;
  }

  /** An operator's choice: a mode pinned until `auto`, or `auto` to hand control back. */
  set(mode: Mode | 'auto', reason: string): void {
    const now = this.clock.now();
    this.actor.send(mode === 'auto' ? { type: 'auto', now, reason } : { type: 'set', mode, now, reason });
    this.watch();
  }

  restarted(): void {
    if (!this.options.manual) this.note('restart');
  }

  escalated(path: string): void {
    if (this.options.manual) return;
    this.note('escalation');
    this.actor.send({ type: 'escalated', now: this.clock.now(), reason: `escalation: ${path} exceeded its restart intensity` });
  }

  refused(): void {
    if (!this.options.manual) this.note('refusal');
  }

  breakerChanged(essential: boolean, from: string, to: string): void {
    if (this.options.manual) return;
    const delta = (to === 'open' ? 1 : 0) - (from === 'open' ? 1 : 0);
    // `hedging`: slow but answering (p95 above the breaker's hedgeAfterMs) — the latency signal.
    const slow = (to === 'hedging' ? 1 : 0) - (from === 'hedging' ? 1 : 0);
    if (delta === 0 && slow === 0) return;
    this.openBreakers += delta;
    if (essential) this.openEssential += delta;
    this.slowBreakers += slow;
    this.watch();
  }

  /** No more sampling (the system shuts down). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.actor.stop();
  }

  private note(signal: keyof Modes['events']): void {
    this.events[signal].push(this.clock.now());
    this.watch();
  }

  /** Samples at once (a storm is seen as it builds), and keeps sampling while it must. */
  private watch(): void {
    this.sample();
  }

  private readonly tick = (): void => {
    this.timer = null;
    this.sample();
  };

  private sample(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const since = now - this.options.windowMs;
    let pressure = WEIGHT.openBreaker * (this.openBreakers - this.openEssential) + WEIGHT.openEssential * this.openEssential;
    const parts: string[] = [];
    for (const signal of ['restart', 'escalation', 'refusal'] as const) {
      const times = this.events[signal];
      let drop = 0;
      while (drop < times.length && times[drop]! <= since) drop++;
      if (drop > 0) times.splice(0, drop);
      if (times.length > 0) parts.push(`${times.length} ${signal}${times.length === 1 ? '' : 's'}`);
      // Refusing is admission control doing its job: overload alone raises the mode to safe
      // (low priorities wait) but never parks the actors that are serving it.
      const weighed = WEIGHT[signal] * times.length;
      pressure += signal === 'refusal' ? Math.min(weighed, this.options.safeAt) : weighed;
    }
    if (this.openBreakers > 0) parts.push(`${this.openBreakers} open breaker${this.openBreakers === 1 ? '' : 's'}`);
    const slow = this.slowBreakers > 0;
    if (slow) parts.push(`${this.slowBreakers} slow target${this.slowBreakers === 1 ? '' : 's'} (breaker hedging)`);
    const reason = parts.length === 0 ? 'healthy' : `${parts.join(', ')} in ${this.options.windowMs} ms`;
    this.actor.send({ type: 'health', now, pressure, slow, reason });
    // Nothing to watch: healthy and normal (or pinned by hand: samples resume on `auto`).
    if (this.timer !== null || (pressure === 0 && !slow && (this.mode === 'normal' || this.pinned))) return;
    const timer = this.clock.setTimeout(this.tick, this.options.sampleMs);
    (timer as { unref?: () => void }).unref?.(); // the sampler never keeps a host alive
    this.timer = timer;
  }
}
