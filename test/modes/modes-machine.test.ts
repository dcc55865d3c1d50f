import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type ModeThresholds, modesMachine } from '../../src/modes/modes-machine.js';

const thresholds: ModeThresholds = { preSafeAt: 3, safeAt: 6, emergencyAt: 20, recoverAfterMs: 1000 };

function machine() {
  const actor = createActor(modesMachine, { input: thresholds });
  actor.start();
  const health = (now: number, pressure: number) => actor.send({ type: 'health', now, pressure, slow: false, reason: `pressure ${pressure}` });
  return { actor, health, mode: () => actor.getSnapshot().value };
}

describe('modesMachine', () => {
  it('steps up at once to the level the pressure reaches', () => {
    const m = machine();
    m.health(0, 4);
    expect(m.mode()).toBe('preSafe');
    m.health(10, 25);
    expect(m.mode()).toBe('emergency');
    const fresh = machine();
    fresh.health(0, 7);
    expect(fresh.mode()).toBe('safe');
  });

  it('steps down one level at a time, each after the signals stayed healthy for recoverAfterMs', () => {
    const m = machine();
    m.health(0, 25);
    expect(m.mode()).toBe('emergency');
    const seen: unknown[] = [];
    for (let t = 100; t <= 4000; t += 100) {
      m.health(t, 0);
      if (seen.at(-1) !== m.mode()) seen.push(m.mode());
    }
    expect(seen).toEqual(['emergency', 'safe', 'recovery', 'normal']);
  });

  it('starts the quiet period over when pressure comes back (hysteresis)', () => {
    const m = machine();
    m.health(0, 7);
    m.health(100, 0);
    m.health(900, 4); // not healthy: below safeAt, but at preSafeAt
    m.health(1500, 0);
    expect(m.mode()).toBe('safe'); // the quiet period restarted at 1500
    m.health(2600, 0);
    expect(m.mode()).toBe('recovery');
  });

  it('goes at least to safe on an escalation, and holds a mode set by hand until auto', () => {
    const m = machine();
    m.actor.send({ type: 'escalated', now: 0, reason: 'escalation' });
    expect(m.mode()).toBe('safe');
    m.actor.send({ type: 'set', mode: 'emergency', now: 10, reason: 'operator' });
    for (let t = 100; t <= 5000; t += 100) m.health(t, 0);
    expect(m.mode()).toBe('emergency'); // pinned
    m.actor.send({ type: 'auto', now: 5000, reason: 'operator' });
    for (let t = 5100; t <= 6200; t += 100) m.health(t, 0);
    expect(m.mode()).toBe('safe'); // the health signals decide again
  });
});
