import { describe, expect, it } from 'vitest';
import { ActorStoppedError, CircuitOpenError, ConfigError, GenesisError, isGenesisError, SystemStoppedError, TimeoutError } from '../../src/index.js';

describe('isGenesisError', () => {
  it('recognises every Genesis error, and by code when one is given', () => {
    const timeout = new TimeoutError('/a', 10);
    expect(isGenesisError(timeout)).toBe(true);
    expect(isGenesisError(timeout, 'TIMEOUT')).toBe(true);
    expect(isGenesisError(timeout, 'CIRCUIT_OPEN')).toBe(false);
    expect(isGenesisError(new CircuitOpenError('/b'), 'CIRCUIT_OPEN')).toBe(true);
    expect(isGenesisError(new ConfigError('x', 'bad'), 'CONFIG')).toBe(true);
    expect(isGenesisError(new SystemStoppedError('s'), 'SYSTEM_STOPPED')).toBe(true);
    expect(new SystemStoppedError('s')).toBeInstanceOf(ActorStoppedError);
  });

  it('says no to other errors and non-errors, and yes to a Genesis error from another copy', () => {
    expect(isGenesisError(new Error('plain'))).toBe(false);
    expect(isGenesisError(Object.assign(new Error('fs'), { code: 'ENOENT' }))).toBe(false);
    expect(isGenesisError({ code: 'TIMEOUT', message: 'not an Error' })).toBe(false);
    expect(isGenesisError(undefined)).toBe(false);
    // another copy of the package: a different class, the same shape and code
    const foreign = Object.assign(new Error('ask to /a timed out'), { code: 'TIMEOUT' });
    expect(isGenesisError(foreign, 'TIMEOUT')).toBe(true);
    expect(new TimeoutError('/a', 1)).toBeInstanceOf(GenesisError);
  });
});
