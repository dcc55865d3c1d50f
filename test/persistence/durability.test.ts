/**
 * "A crash loses no state that was committed", against real process kills: a child process
 * snapshots continuously and is killed with SIGKILL at seeded random moments; after each kill
 * the database is checked (integrity, no corrupt or torn rows, every committed snapshot there)
 * and the next child must restore at least the last state it reported committed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../actors/rng.js';
import { decodeRow } from '../../src/persistence/snapshot-codec.js';
import { SqliteSnapshotStore } from '../../src/persistence/sqlite-store.js';

const KILLS = Number(process.env.DURABILITY_KILLS ?? 50);
const ACTORS = 8;
const CHILD = new URL('../fixtures/snapshot-child.ts', import.meta.url).pathname;

interface Run {
  restored: Map<string, number>;
  committed: Map<string, { seq: number; value: number }>;
}

/** Starts the child, waits until it has committed at least `minCommits` snapshots plus a random
 *  extra delay, kills it with SIGKILL, and returns what it reported. */
function runAndKill(file: string, minCommits: number, extraMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, file, String(ACTORS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    const run: Run = { restored: new Map(), committed: new Map() };
    let commits = 0;
    let buffered = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, path, a, b] = line.split(' ');
        if (kind === 'restored') run.restored.set(path!, Number(a));
        if (kind === 'committed') {
          run.committed.set(path!, { seq: Number(a), value: Number(b) });
          if (++commits === minCommits) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      if (signal === 'SIGKILL') resolve(run);
      else reject(new Error(`child exited with ${code}: ${stderr}`));
    });
  });
}

describe('crash durability (real processes, SIGKILL)', () => {
  it(`restores only committed state, with no corrupt or torn rows, across ${KILLS} kills`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genesis-durability-'));
    const file = join(dir, 'snapshots.db');
    const random = seededRandom(1234);
    let lastCommitted = new Map<string, number>();
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const run = await runAndKill(file, 1 + Math.floor(random() * 40), Math.floor(random() * 30));
        // The new process restored at least what the previous one reported committed.
        expect(run.restored.size).toBe(ACTORS);
        for (const [path, value] of run.restored) expect(value).toBeGreaterThanOrEqual(lastCommitted.get(path) ?? 0);

        const raw = new Database(file);
        expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
        raw.close();
        const store = new SqliteSnapshotStore({ path: file });
        try {
          lastCommitted = new Map();
          for (const [path, { seq, value }] of run.committed) {
            const rows = store.own(path);
            expect(rows.length).toBeGreaterThan(0);
            const newest = decodeRow(rows[0]!) as { value: number }; // throws if corrupt or torn
            expect(rows[0]!.seq).toBeGreaterThanOrEqual(seq); // every committed snapshot is there
            expect(newest.value).toBeGreaterThanOrEqual(value);
            for (const row of rows) decodeRow(row);
            lastCommitted.set(path, value);
          }
        } finally {
          store.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('the demo after kill -9', () => {
  it('resumes the portfolio from its snapshot on the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genesis-demo-'));
    const db = join(dir, 'genesis.db');
    const main = new URL('../../supervisors/main.ts', import.meta.url).pathname;
    const start = (args: string[]) =>
      spawn(process.execPath, ['--import', 'tsx', main, '--db', db, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'silent' } });
    try {
      // First run: long enough to be killed mid-way, once it has printed a few progress lines.
      const first = start(['--events', '50000000', '--fresh']);
      await new Promise<void>((resolve, reject) => {
        let lines = 0;
        first.stdout!.on('data', (chunk: Buffer) => {
          lines += chunk
            .toString()
            .split('\n')
            .filter((l) => l.includes('events/s')).length;
          if (lines >= 4) first.kill('SIGKILL');
        });
        first.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error('the demo ended before it was killed'))));
      });
      // Second run: short; it must say it resumed, and be the portfolio's second session.
      const second = start(['--events', '20000', '--no-chaos']);
      let output = '';
      second.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
      expect(code).toBe(0);
      expect(output).toContain('Resumed the portfolio');
      expect(output).toMatch(/Portfolio \(session 2\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
