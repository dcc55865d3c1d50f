import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ActorSystem, ConfigError, type SystemOptions } from '../../src/index.js';
import { startSystem } from '../helpers.js';

/** The ConfigError `ActorSystem.start` fails with (or a failure of the test if none). */
async function startError(options: SystemOptions): Promise<ConfigError> {
  const error = await ActorSystem.start({ store: false, ...options }).then(
    async (system) => {
      await system.shutdown();
      return new Error('started');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('logger option', () => {
  it('refuses a value that is neither a pino Logger nor pino options, naming `logger`', async () => {
    for (const logger of ['x', 42, null, ['info']]) {
      const error = await startError({ logger: logger as never });
      expect(error.code).toBe('CONFIG');
      expect(error.option).toBe('logger');
      expect(error.message).toMatch(/must be a pino Logger or pino options/);
    }
  });

  it('refuses a logger without the pino methods (console), saying which are missing', async () => {
    const error = await startError({ logger: console as never });
    expect(error.option).toBe('logger');
    expect(error.message).toMatch(/not a pino Logger: no child, fatal method/);
  });

  it('refuses an unknown level with a ConfigError naming `logger.level` and the levels known', async () => {
    const error = await startError({ logger: { level: 'nope' } });
    expect(error.option).toBe('logger.level');
    expect(error.message).toMatch(/must be one of trace, debug, info, warn, error, fatal, silent \(got "nope"\)/);
    // Inherited names are not levels either (pino itself would take 'toString').
    expect((await startError({ logger: { level: 'toString' } })).option).toBe('logger.level');
    expect((await startError({ logger: { level: 35 as never } })).option).toBe('logger.level');
  });

  it('refuses a level missing from useOnlyCustomLevels, and other options pino refuses, as ConfigErrors', async () => {
    const custom = await startError({ logger: { level: 'info', customLevels: { audit: 35 }, useOnlyCustomLevels: true } });
    expect(custom.option).toBe('logger.level');
    expect(custom.message).toMatch(/must be one of audit, silent/);
    const redact = await startError({ logger: { level: 'silent', redact: 5 as never } });
    expect(redact.option).toBe('logger');
    expect(redact.message).toMatch(/redact must contain an array of strings/);
    expect(redact.cause).toBeInstanceOf(Error);
  });

  it('accepts pino options with default, custom or numeric levels, and a pino Logger', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
    const given = pino({ level: 'info' }, destination);
    const system = await startSystem({ logger: given, name: 'logged' });
    system.log.info('hello');
    expect(lines).toContainEqual(expect.objectContaining({ system: 'logged', msg: 'hello' }));
    for (const level of ['warn', 'silent', 'audit', 35, 60]) {
      await expect(startSystem({ logger: { level, customLevels: { audit: 35 } } as never })).resolves.toBeInstanceOf(ActorSystem);
    }
  });
});
