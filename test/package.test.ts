/**
 * Genesis as its users get it: packed with `npm pack` (which builds dist/ through `prepack`),
 * installed from the tarball into a host project outside this repository, and used from there —
 * by name, from plain Node (no TypeScript loader) and from a strict TypeScript host — with the
 * `genesis` bin on the host's PATH.
 *
 * How the host gets the package's dependencies: it must not rebuild better-sqlite3 from source
 * (a minute and more on two cores) nor need the network, and `npm install --offline` alone does
 * not work after a plain `npm ci` (the cache then lacks the registry documents npm needs to
 * resolve the tarball's version ranges). So each of the tarball's `dependencies` is linked
 * into the host's node_modules from this repository's (the versions the lock pinned,
 * better-sqlite3 built once by `npm ci`), and then npm really installs the tarball, offline:
 * it unpacks what `files` publishes, checks the declared dependencies against what the host
 * has (one missing from the list would be fetched — and fail here, offline), and links the bin.
 * The host lies outside the repository, so nothing else of the repository (its dev types, its
 * other packages) can be found from it: an import of an undeclared package fails as it would
 * for a user. `@types/node` is linked too, as the TypeScript host's own: any Node.js project
 * written in TypeScript has it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
};

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (or kills it after `timeoutMs`); never rejects on a failure. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment without what an enclosing `npm test` sets for its scripts (npm_config_*, …):
 *  npm in the host must see the host as its project, not this repository. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'));
}

function expectSuccess(ran: Ran, what: string): void {
  expect(ran.code, `${what} failed:\n${ran.stdout}\n${ran.stderr}`).toBe(0);
}

/** A plain JavaScript host: imports Genesis by name, keeps a counter snapshotted in SQLite. */
const PLAIN_HOST = `
import { inspect } from 'node:util';
import { ActorSystem, defineActor } from '${PKG.name}';

const Counter = defineActor({
  init: () => 0,
  receive(total, msg, ctx) {
    if (msg.type === 'add') return total + msg.n;
    ctx.reply(total);
  },
});

const system = await ActorSystem.start({ name: 'host', store: process.argv[2], logger: { level: 'silent' } });
const counter = system.spawn(Counter, { name: 'counter', snapshot: { everyMessages: 1 } });
counter.tell({ type: 'add', n: 40 });
counter.tell({ type: 'add', n: 2 });
const total = await counter.ask({ type: 'get' }, { timeoutMs: 1000 });
const checkpoint = await system.checkpoint('/counter');
const internals = await import('${PKG.name}/dist/core/cell.js').then(() => 'importable', (error) => error.code);
console.log(JSON.stringify({ total, inspected: inspect({ counter }), checkpointed: Object.keys(checkpoint), internals }));
await system.shutdown();
`;

/** A host that forgets shutdown(), after using what arms the runtime's timers: an ask (its
 *  deadline), a crash that opens a breaker (its reset), a snapshot interval, a resilient call. */
const FORGETFUL_HOST = `
import { writeSync } from 'node:fs';
import { ActorSystem, defineActor, resilient } from '${PKG.name}';

const Echo = defineActor({
  init: () => null,
  receive(state, msg, ctx) {
    if (msg === 'boom') throw new Error('boom');
    ctx.reply(msg);
  },
});

const system = await ActorSystem.start({ store: ':memory:', logger: { level: 'silent' } });
const echo = system.spawn(Echo, { name: 'echo', snapshot: { everyMs: 30_000 }, breaker: { failureThreshold: 1, resetTimeoutMs: 30_000 } });
const reply = await echo.ask('hello');
const crash = await echo.ask('boom').then(() => 'answered', (error) => error.code);
const call = await resilient(async () => 'ok', { timeoutMs: 30_000 })();
const breaker = system.tree()[0].breaker;
const done = performance.now();
process.on('exit', () => {
  writeSync(1, JSON.stringify({ reply, crash, call, breaker, lingeredMs: Math.round(performance.now() - done) }) + '\\n');
});
`;

/** A TypeScript host; \`@ts-expect-error\` lines prove the types are real, not \`any\`. */
const TS_HOST = `
import {
  type ActorRef,
  ActorSystem,
  type AskOptions,
  child,
  defineActor,
  isGenesisError,
  resilient,
  SimulatedClock,
  supervisor,
  type TreeNode,
} from '${PKG.name}';

type Msg = { type: 'add'; n: number } | { type: 'get' };

const Counter = defineActor<number, Msg, { start: number }>({
  init: (args) => args.start,
  receive(total, msg, ctx) {
    if (msg.type === 'add') return total + msg.n;
    ctx.reply(total);
  },
});

const system = await ActorSystem.start({ name: 'typed', store: false, clock: new SimulatedClock() });
const counter: ActorRef<Msg> = system.spawn(Counter, { name: 'counter', args: { start: 1 } });
counter.tell({ type: 'add', n: 2 }, { priority: 0 });
const options: AskOptions = { timeoutMs: 1_000 };
const total: number = await counter.ask<number>({ type: 'get' }, options);
// @ts-expect-error a message outside Msg
counter.tell({ type: 'sub', n: 1 });
// @ts-expect-error args are required and typed
system.spawn(Counter, { args: { start: 'one' } });

await system.start(supervisor('app', { strategy: 'one-for-one', children: [child('second', Counter, { args: { start: 0 } })] }));
const tree: TreeNode[] = system.tree();
const first = tree[0]; // possibly undefined: noUncheckedIndexedAccess
console.log(total, first?.path);

const fetchPrice = resilient(async ({ signal }, symbol: string) => ({ symbol, price: 1, aborted: signal.aborted }), {
  timeoutMs: 500,
  retry: { max: 2 },
});
const quote: { symbol: string; price: number } = await fetchPrice('BTC');
console.log(quote.price);
try {
  await counter.ask({ type: 'get' });
} catch (error) {
  if (isGenesisError(error, 'TIMEOUT')) console.log(error.code);
}
await system.shutdown();
`;

/** The strict consumer of the issue: every flag that makes declaration files harder to pass. */
const TS_CONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
  },
  files: ['host.ts'],
};

/**
 * XState's own declarations (5.33) fail `exactOptionalPropertyTypes` when checked
 * (`skipLibCheck: false`) — in any program that includes them, with or without Genesis — and
 * Genesis's public types include them (`breakerMachine`, `modesMachine`, and `Mode`'s module).
 * Errors located there are XState's; every other one fails the test.
 */
const UPSTREAM = /(^|[\\/])node_modules[\\/]xstate[\\/]/;

/** tsc's diagnostics (--pretty false): a line `file(line,col): error TS…` and its indented sequel. */
function diagnostics(output: string): string[] {
  const found: string[] = [];
  for (const line of output.split('\n')) {
    if (/^\S/.test(line) && /error TS\d+:/.test(line)) found.push(line);
    else if (/^\s/.test(line) && found.length > 0) found[found.length - 1] += `\n${line}`;
  }
  return found;
}

describe(`the package ${PKG.name}, packed and installed in a host project`, () => {
  let work: string;
  let host: string;
  let files: string[];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'genesis-package-'));
    host = path.join(work, 'host');
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, timeoutMs: 120_000 });
    expectSuccess(packed, 'npm pack');
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = info!.files.map((f) => f.path).sort();

    mkdirSync(path.join(host, 'node_modules', '@types'), { recursive: true });
    writeFileSync(path.join(host, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }));
    const link = (name: string) => {
      const to = path.join(host, 'node_modules', name);
      mkdirSync(path.dirname(to), { recursive: true }); // a scoped package (@nats-io/…) lives in its scope's folder
      symlinkSync(path.join(ROOT, 'node_modules', name), to, 'dir');
    };
    for (const name of Object.keys(PKG.dependencies)) link(name);
    const tarball = path.join(work, info!.filename);
    const installed = await run('npm', ['install', '--prefix', host, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], {
      cwd: host,
      env: cleanEnv(),
    });
    expectSuccess(installed, 'npm install of the tarball');
    link('@types/node'); // after the install, which prunes what the host's package.json does not list
  }, 180_000);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('publishes the build (JavaScript, types, source maps), LICENSE and README — no sources, tests or benchmarks', () => {
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/index.js.map');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    const unexpected = files.filter((f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(f));
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const map = JSON.parse(readFileSync(path.join(host, 'node_modules', PKG.name, 'dist', 'index.js.map'), 'utf8')) as { sourcesContent?: unknown[] };
    expect(map.sourcesContent?.length, 'source maps carry their sources (src/ is not published)').toBeGreaterThan(0);
  });

  it('imports the package by name from a plain Node ESM host, which shuts the system down and exits 0 by itself', async () => {
    const store = path.join(work, 'host.db');
    writeFileSync(path.join(host, 'host.mjs'), PLAIN_HOST);
    const ran = await run(process.execPath, ['host.mjs', store], { cwd: host, timeoutMs: 20_000 });
    expectSuccess(ran, 'the plain host');
    expect(JSON.parse(ran.stdout)).toEqual({
      total: 42,
      inspected: '{ counter: ActorRef(/counter) }',
      checkpointed: ['/counter'],
      internals: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    // Again, on the same database: the counter resumes from its snapshot (SQLite works from the package).
    const again = await run(process.execPath, ['host.mjs', store], { cwd: host, timeoutMs: 20_000 });
    expectSuccess(again, 'the plain host, run again');
    expect(JSON.parse(again.stdout)).toMatchObject({ total: 84 });
  }, 30_000);

  it('lets a host that forgets shutdown() exit as soon as its own work is done', async () => {
    writeFileSync(path.join(host, 'forgetful.mjs'), FORGETFUL_HOST);
    const ran = await run(process.execPath, ['forgetful.mjs'], { cwd: host, timeoutMs: 20_000 });
    expectSuccess(ran, 'the forgetful host');
    const report = JSON.parse(ran.stdout) as { lingeredMs: number };
    expect(report).toMatchObject({ reply: 'hello', crash: 'ACTOR_STOPPED', call: 'ok', breaker: 'open' });
    // Before: 5 s (the ask deadline's timer), 30 s (breaker reset), forever (snapshot interval).
    expect(report.lingeredMs).toBeLessThan(1_000);
  }, 30_000);

  it('typechecks a strict TypeScript host (exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck: false) against the published types', async () => {
    writeFileSync(path.join(host, 'host.ts'), TS_HOST);
    writeFileSync(path.join(host, 'tsconfig.json'), JSON.stringify(TS_CONFIG, null, 2));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const ran = await run(process.execPath, [tsc, '-p', host, '--pretty', 'false'], { cwd: host, timeoutMs: 60_000 });
    const errors = diagnostics(ran.stdout).filter((d) => !UPSTREAM.test(d.split('(')[0] ?? ''));
    expect(errors, "errors in the host or in Genesis's declarations").toEqual([]);
    expect(ran.code === 0 || diagnostics(ran.stdout).length > 0, `tsc failed without diagnostics:\n${ran.stdout}\n${ran.stderr}`).toBe(true);
  }, 90_000);

  it('installs the genesis bin: --help, --version, and one line and exit code 2 for a bad flag', async () => {
    const bin = path.join(host, 'node_modules', '.bin', 'genesis');
    const help = await run(bin, ['--help'], { cwd: host });
    expectSuccess(help, 'genesis --help');
    expect(help.stdout).toContain('genesis attach <socket>');
    const version = await run(bin, ['--version'], { cwd: host });
    expect(version).toEqual({ code: 0, stdout: `${PKG.version}\n`, stderr: '' });
    const bad = await run(bin, ['--frobnicate'], { cwd: host });
    expect(bad).toEqual({ code: 2, stdout: '', stderr: "genesis: unknown option '--frobnicate' (see genesis --help)\n" });
  }, 30_000);
});
