/**
 * The REPL served on a Unix socket (system.serveRepl), driven as a client would: connect with
 * net, type commands, read until the prompt. The socket's mode is 0600; a bad command prints one
 * line and the session goes on; sessions run side by side; a client gone abruptly leaves the
 * host unharmed; close() and shutdown remove the socket file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach } from '../../src/cli/attach.js';
import { type ActorSystem, child, ConfigError, defineActor, isGenesisError, type ReplServer, SocketInUseError, supervisor } from '../../src/index.js';
import { startSystem, until } from '../helpers.js';

type Msg = { type: 'add'; n: number } | { type: 'get' } | { type: 'fail' } | { type: 'slow' };

const Counter = defineActor<{ n: number }, Msg>({
  init: () => ({ n: 0 }),
  receive(state, msg, ctx) {
    if (msg.type === 'add') return { n: state.n + msg.n };
    if (msg.type === 'fail') throw new Error('asked to fail');
    if (msg.type === 'slow') return new Promise((resolve) => setTimeout(() => resolve(state), 300));
    ctx.reply(state.n);
    return state;
  },
});

const tree = () =>
  supervisor('app', {
    strategy: 'one-for-one',
    children: [child('counter', Counter, { snapshot: { everyMessages: 1 } }), child('other', Counter)],
  });

/** A REPL client: what the host wrote (terminal codes stripped), and commands answered up to the prompt. */
class Client {
  private text = '';
  closed = false;
  constructor(
    readonly socket: Socket,
    private readonly prompt: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.text += stripVTControlCharacters(chunk.toString());
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  get output(): string {
    return this.text;
  }

  /** Waits for the first prompt (after the banner). */
  async ready(): Promise<void> {
    await until(() => this.text.includes(this.prompt), 5_000);
  }

  /** Types `line` and resolves with what came back before the next prompt (the echo removed). */
  async command(line: string, limitMs = 5_000): Promise<string> {
    const from = this.text.length;
    this.socket.write(`${line}\n`);
    const answered = () => {
      const after = this.text.slice(from);
      const echoed = after.indexOf(line);
      return echoed >= 0 && after.slice(echoed + line.length).includes(this.prompt);
    };
    await until(answered, limitMs);
    const after = this.text.slice(from);
    const body = after.slice(after.indexOf(line) + line.length);
    return body
      .slice(0, body.lastIndexOf(this.prompt))
      .replace(/^\r?\n/, '')
      .replace(/\r/g, '');
  }
}

async function open(socket: string, prompt = 'repl-test> '): Promise<Client> {
  const connection = connect({ path: socket });
  await new Promise<void>((resolve, reject) => {
    connection.once('connect', resolve);
    connection.once('error', reject);
  });
  const client = new Client(connection, prompt);
  await client.ready();
  return client;
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

let dir: string;
let socket: string;
let system: ActorSystem;
let served: ReplServer | null;
const clients: Client[] = [];

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'genesis-repl-'));
  socket = path.join(dir, 'repl.sock');
  system = await startSystem({ name: 'repl-test' });
  await system.start(tree());
  served = null;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.destroy();
  await served?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<ReplServer> {
  served = await system.serveRepl({ socket });
  return served;
}

async function session(): Promise<Client> {
  const client = await open(socket);
  clients.push(client);
  return client;
}

describe('system.serveRepl', () => {
  it('serves on a Unix socket with mode 0600, and close() ends the sessions and removes the file', async () => {
    const repl = await serve();
    const info = statSync(socket);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    const client = await session();
    expect(client.output).toContain("Genesis REPL · system 'repl-test'");
    const drawn = await client.command('.tree');
    expect(drawn).toContain('repl-test · mode normal');
    expect(drawn).toContain('└─ app  supervisor one-for-one · running · restarts 0 · mailbox 0');
    expect(drawn).toContain('├─ counter  worker · running');
    expect(drawn).toContain('└─ other  worker · running');
    expect(repl.sessions).toBe(1);
    await repl.close();
    await until(() => client.closed);
    expect(existsSync(socket)).toBe(false);
    await repl.close(); // idempotent
    expect(system.isRunning).toBe(true);
  });

  it('prints one line for a bad command or argument, and the session goes on', async () => {
    const exit = process.exit;
    const queue = globalThis.queueMicrotask;
    await serve();
    const client = await session();
    const bad: [string, string][] = [
      ['.inspect /x', 'error: no actor at /x'],
      ['.inspect', 'error: usage: .inspect <path>'],
      ['.inspect app', 'error: an actor path starts with / (got app)'],
      ['.tell /app/counter {nope', 'error: bad JSON: '],
      ['.tell /app/counter', 'error: usage: .tell <path> <json>'],
      ['.ask /nowhere 1', 'error: no actor at /nowhere'],
      ['.ask /app/counter {"type":"fail"}', 'error: ACTOR_STOPPED: '],
      ['.kill /x', 'error: no actor at /x'],
      ['.rollback /app/counter seven', 'error: a snapshot seq is a non-negative integer (got seven)'],
      ['.rollback /app/other 1', 'error: CONFIG: invalid path: /app/other was spawned without a snapshot option'],
      ['.mode sleepy', 'error: CONFIG: invalid mode: must be one of'],
      ['.tree extra', 'error: .tree takes no arguments'],
      ['.deadletters many', 'error: usage: .deadletters'],
      ['.frobnicate', 'Invalid REPL keyword'],
    ];
    for (const [line, expected] of bad) {
      const answer = await client.command(line);
      expect(lines(answer), line).toHaveLength(1);
      expect(answer, line).toContain(expected);
    }
    // JavaScript mistakes are the REPL's business; process.exit is refused.
    expect(await client.command('process.exit(1)')).toContain('Uncaught Error: process.exit is refused in a REPL session');
    expect(await client.command('Promise.reject(new Error("left alone"))')).toContain('left alone');
    expect(await client.command('setTimeout(() => { throw new Error("later") }, 1); 7')).toContain('7');
    await until(() => client.output.includes('Uncaught Error: later'));
    expect(await client.command('queueMicrotask(() => { throw new Error("soon") })')).toBe('');
    await until(() => client.output.includes('Uncaught Error: soon'));
    // ... and it goes on.
    expect(await client.command('.tell /app/counter {"type":"add","n":5}')).toBe('sent to /app/counter\n');
    expect(await client.command('.ask /app/counter {"type":"get"}')).toBe('5\n');
    expect(await client.command('await lookup("/app/counter").ask({ type: "get" })')).toBe('5\n');
    expect(await client.command('system.name')).toBe("'repl-test'\n");
    expect(await client.command('process.pid')).toBe(`${process.pid}\n`);
    expect(system.isRunning).toBe(true);
    // The session's guards are its own: the host's globals are untouched.
    expect(globalThis.process.exit).toBe(exit);
    expect(globalThis.queueMicrotask).toBe(queue);
  });

  it('inspects, kills, stops and restarts actors; modes, breakers, snapshots, rollback, metrics, dead letters', async () => {
    await serve();
    const client = await session();
    await client.command('.tell /app/counter {"type":"add","n":3}');
    await client.command('.tell /app/counter {"type":"add","n":4}');
    const inspected = await client.command('.inspect /app/counter');
    expect(inspected).toContain('/app/counter  worker · running');
    expect(inspected).toMatch(/restarts +0/);
    expect(inspected).toMatch(/state +\{ n: 7 \}/);

    expect(await client.command('.kill /app/counter')).toContain('killed /app/counter');
    await until(() => system.tree()[0]!.children[0]!.restarts === 1 && system.tree()[0]!.children[0]!.status === 'running');
    expect(await client.command('.inspect /app/counter')).toMatch(/restarts +1/);
    expect(system.deadLetters.counts()).toEqual({}); // a kill loses no message

    expect(await client.command('.stop /app/other')).toContain('stopped /app/other');
    expect(await client.command('.tree')).toContain('└─ other  worker · stopped');
    expect(await client.command('.restart /app/other')).toBe('restarted /app/other\n');
    expect(await client.command('.tree')).toContain('└─ other  worker · running');

    expect(await client.command('.mode')).toBe('mode normal\n');
    expect(await client.command('.mode safe a drill')).toBe('mode safe (was normal)\n');
    expect(system.mode).toBe('safe');
    expect(await client.command('.tree')).toContain('repl-test · mode safe');
    expect(await client.command('.mode auto')).toContain('driven by the health signals again');

    expect(await client.command('.breakers')).toContain('no breakers yet');
    await client.command('.ask /app/other {"type":"get"}');
    expect(await client.command('.breakers')).toContain('closed    /app/other');

    const [latest] = system.snapshots('/app/counter');
    expect(latest).toBeDefined();
    expect(await client.command('.snapshots /app/counter')).toContain(`#${latest!.seq}`);
    const seq = system.snapshots('/app/counter').find((s) => s.source === 'own')!.seq;
    expect(await client.command(`.rollback /app/counter ${seq}`)).toBe(`rolled /app/counter back to snapshot #${seq}\n`);

    expect(await client.command('.metrics')).toContain('messagesHandled');
    system.lookup('/app/counter')!.tell({ type: 'fail' });
    await until(() => system.deadLetters.total > 0);
    const letters = await client.command('.deadletters');
    expect(letters).toContain('1 dead letters (crashed 1)');
    expect(letters).toContain("/app/counter  { type: 'fail' } — asked to fail");
    expect(await client.command('.help')).toContain('.rollback <path> <seq>');
  });

  it('completes actor paths on Tab', async () => {
    await serve();
    const client = await session();
    const from = client.output.length;
    client.socket.write('.inspect /app/co\t');
    await until(() => client.output.slice(from).includes('/app/counter'));
    expect(await client.command('')).toContain('/app/counter  worker · running');
  });

  it('serves several sessions at once', async () => {
    await serve();
    const [a, b] = await Promise.all([session(), session()]);
    expect(served!.sessions).toBe(2);
    const [treeA, askB] = await Promise.all([a.command('.tree'), b.command('.ask /app/counter {"type":"get"}')]);
    expect(treeA).toContain('counter');
    expect(askB).toBe('0\n');
    a.socket.write('.exit\n'); // ends that session only
    await until(() => a.closed);
    expect(await b.command('.tell /app/counter {"type":"add","n":1}')).toBe('sent to /app/counter\n');
    await until(() => served!.sessions === 1);
    expect(system.isRunning).toBe(true);
  });

  it('is unharmed by a client that disconnects abruptly, even in the middle of a command', async () => {
    await serve();
    const a = await session();
    a.socket.write('.ask /app/other {"type":"slow"}\n.ask /app/other {"type":"get"}\n.tree\n.inspec');
    await new Promise((resolve) => setTimeout(resolve, 20));
    a.socket.destroy();
    await until(() => served!.sessions === 0);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the slow handler finishes; its answer has no one to go to
    const b = await session();
    expect(await b.command('.ask /app/other {"type":"get"}')).toBe('0\n');
    expect(system.isRunning).toBe(true);
  });

  it('works with genesis attach (piped input: the host answers, then closes)', async () => {
    await serve();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    const done = attach(socket, { stdin, stdout, stderr });
    stdin.end('.tree\n.ask /app/counter {"type":"get"}\n');
    expect(await done).toBe(0);
    const text = stripVTControlCharacters(out);
    expect(text).toContain('└─ app  supervisor one-for-one');
    expect(text).toMatch(/\n0\r?\n/);
  });

  it('is closed, and its file removed, by system.shutdown()', async () => {
    await serve();
    const client = await session();
    await system.shutdown();
    await until(() => client.closed);
    expect(existsSync(socket)).toBe(false);
    await expect(system.serveRepl({ socket })).rejects.toMatchObject({ code: 'SYSTEM_STOPPED' });
  });

  it('checks its options', async () => {
    const bad: unknown[] = [undefined, null, 'repl.sock', {}, { socket: 7 }, { socket: '' }, { socket, port: 1 }, { socket, host: '127.0.0.1' }];
    for (const options of bad) {
      const error = await system.serveRepl(options as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(ConfigError);
    }
    expect(existsSync(socket)).toBe(false);
  });

  it('refuses a socket a server listens on, replaces a stale one, and leaves a file that is not a socket alone', async () => {
    await serve();
    const again = await system.serveRepl({ socket }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(SocketInUseError);
    expect(isGenesisError(again, 'SOCKET_IN_USE')).toBe(true);
    expect((await session()).output).toContain('Genesis REPL'); // the first one still serves
    await served!.close();

    // A socket file left behind by a host that was killed.
    const child = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(child.signal).toBe('SIGKILL');
    expect(lstatSync(socket).isSocket()).toBe(true);
    await serve();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect((await session()).output).toContain('Genesis REPL');
    await served!.close();

    const file = path.join(dir, 'notes.txt');
    writeFileSync(file, 'keep me');
    const error = await system.serveRepl({ socket: file }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });
});
