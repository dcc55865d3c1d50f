/**
 * `npm run repl` (supervisors/repl.ts) as a child process: the trading tree with a REPL on
 * stdin/stdout; `.tree` draws it, `.exit` shuts the system down and the process exits 0. Its
 * snapshots go to an in-memory store (data/genesis.db is left alone).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');

/** Runs a TypeScript file with tsx; resolves with its exit code and output. */
function runTs(args: string[], input?: (out: string, stdin: NodeJS.WritableStream & { writableEnded: boolean }) => void) {
  const child = spawn(process.execPath, [TSX, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk;
    input?.(out, child.stdin);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk;
  });
  if (input === undefined) child.stdin.end();
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

describe('npm run repl', () => {
  it('starts the trading system with a REPL; .exit shuts it down and exits 0', async () => {
    const { code, out, err } = await runTs(['supervisors/repl.ts', '--db', ':memory:'], (out, stdin) => {
      if (out.includes('trading> ') && !stdin.writableEnded) stdin.end('.tree\n.ask /trading/strategy "seen"\n.inspect /nowhere\n.exit\n');
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain("Genesis REPL · system 'trading' (snapshots in :memory:)");
    expect(out).toContain('trading · mode normal');
    expect(out).toContain('└─ trading  supervisor one-for-one · running');
    expect(out).toMatch(/├─ exchange {2}pool one-for-one · running/);
    expect(out).toMatch(/└─ feed {2}worker · running/);
    expect(out).toMatch(/(\n|> )0\n/); // the reply to the ask
    expect(out).toContain('error: no actor at /nowhere\n');
  }, 15_000);

  it('a host whose REPL is closed (with a session still connected) is not held open by it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'genesis-repl-host-'));
    try {
      const host = path.join(dir, 'host.mts');
      const socket = path.join(dir, 'repl.sock');
      writeFileSync(
        host,
        `import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { ActorSystem } from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))};
const system = await ActorSystem.start({ name: 'host', store: false, logger: { level: 'silent' } });
const repl = await system.serveRepl({ socket: ${JSON.stringify(socket)} });
const client = connect({ path: ${JSON.stringify(socket)} });
client.on('error', () => {});
await new Promise((resolve) => client.once('data', resolve));
await repl.close();
console.log('closed', existsSync(${JSON.stringify(socket)}));
`,
      );
      const { code, out, err } = await runTs([host]);
      expect(err).toBe('');
      expect(out).toBe('closed false\n');
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 15_000);
});
