/**
 * The `genesis` command, run in-process on fake terminals: usage errors are one line and exit
 * code 2; `attach` connects to a REPL served on a Unix socket (here, a small stand-in server),
 * relays both ways, and says in one line why it could not connect.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HELP, type Io, run } from '../../src/cli/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A fake terminal: stdin to write to, stdout and stderr collected. `tty` makes stdin a TTY. */
function terminal(tty = false) {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  const modes: boolean[] = [];
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = (mode: boolean) => modes.push(mode);
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk;
  });
  const io: Io = { stdin, stdout, stderr };
  return { io, stdin, modes, out: () => out, err: () => err };
}

/** Waits until `predicate` holds (real time, bounded). */
async function waitFor(predicate: () => boolean, limitMs = 5_000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > limitMs) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let dir: string;
let servers: Server[];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'genesis-cli-'));
  servers = [];
});

afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in for a host's REPL: answers each line with `= LINE`, closes the session on 'bye'
 *  or when the client has finished sending. */
async function replServer(socketPath: string): Promise<{ received: () => string }> {
  let received = '';
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    socket.write('welcome\n');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk;
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'bye') socket.end('see you\n');
        else socket.write(`= ${line.toUpperCase()}\n`);
      }
    });
    socket.on('end', () => socket.end());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { received: () => received };
}

describe('genesis: arguments', () => {
  it('prints the help with --help and -h, exit code 0', async () => {
    for (const flag of ['--help', '-h']) {
      const t = terminal();
      expect(await run([flag], t.io)).toBe(0);
      expect(t.out()).toBe(HELP);
      expect(t.err()).toBe('');
    }
  });

  it("prints the package's version with --version", async () => {
    const t = terminal();
    expect(await run(['--version'], t.io)).toBe(0);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(t.out()).toBe(`${pkg.version}\n`);
  });

  it('answers bad usage with one line on stderr and exit code 2', async () => {
    const cases: [string[], string][] = [
      [['--frobnicate'], "genesis: unknown option '--frobnicate' (see genesis --help)\n"],
      [['-x'], "genesis: unknown option '-x' (see genesis --help)\n"],
      [['--help=yes'], "genesis: option '-h, --help' does not take an argument (see genesis --help)\n"],
      [[], 'genesis: a command is required (see genesis --help)\n'],
      [['launch'], "genesis: unknown command 'launch' (see genesis --help)\n"],
      [['attach'], 'genesis: attach needs the path of a REPL socket (see genesis --help)\n'],
      [['attach', 'a.sock', 'b.sock'], "genesis: attach takes one socket, got also 'b.sock' (see genesis --help)\n"],
    ];
    for (const [argv, message] of cases) {
      const t = terminal();
      expect(await run(argv, t.io), argv.join(' ')).toBe(2);
      expect(t.err(), argv.join(' ')).toBe(message);
      expect(t.out(), argv.join(' ')).toBe('');
    }
  });

  it('explains attach with attach --help', async () => {
    const t = terminal();
    expect(await run(['attach', '--help'], t.io)).toBe(0);
    expect(t.out()).toContain('Usage: genesis attach <socket>');
  });
});

describe('genesis attach <socket>', () => {
  it('relays piped input to the REPL and its answers back, and ends with 0 once the host has answered', async () => {
    const socket = path.join(dir, 'repl.sock');
    const server = await replServer(socket);
    const t = terminal();
    const session = run(['attach', socket], t.io);
    t.stdin.end('.tree\n.metrics\n');
    expect(await session).toBe(0);
    expect(server.received()).toBe('.tree\n.metrics\n');
    expect(t.out()).toBe('welcome\n= .TREE\n= .METRICS\n');
    expect(t.err()).toBe('');
  });

  it('ends with 0 when the host closes the session', async () => {
    const socket = path.join(dir, 'repl.sock');
    await replServer(socket);
    const t = terminal();
    const session = run(['attach', socket], t.io);
    t.stdin.write('bye\n'); // stdin stays open: the host's close alone ends the session
    expect(await session).toBe(0);
    expect(t.out()).toBe('welcome\nsee you\n');
  });

  it('on a terminal: raw mode while attached (keys go to the REPL as typed), restored after; Ctrl-] detaches', async () => {
    const socket = path.join(dir, 'repl.sock');
    const server = await replServer(socket);
    const t = terminal(true);
    const session = run(['attach', socket], t.io);
    await waitFor(() => t.out() === 'welcome\n'); // connected
    t.stdin.write('1+1\n');
    await waitFor(() => t.out() === 'welcome\n= 1+1\n');
    t.stdin.write('x\u001d.exit\n'); // what follows Ctrl-] is not sent
    expect(await session).toBe(0);
    expect(server.received()).toBe('1+1\nx');
    expect(t.modes).toEqual([true, false]);
    expect(t.err()).toBe(`Attached to ${socket}. Ctrl-] detaches.\r\n`);
    expect(t.out()).toBe('welcome\n= 1+1\n\r\n');
  });

  it('says in one line that no host serves the socket (exit code 1)', async () => {
    const socket = path.join(dir, 'missing.sock');
    const t = terminal();
    expect(await run(['attach', socket], t.io)).toBe(1);
    expect(t.err()).toBe(`genesis: no socket at ${socket}: is the host running and serving its REPL there?\n`);
  });

  it('says when the socket is left behind by a host that died, and when the path is no socket (exit code 1)', async () => {
    const stale = path.join(dir, 'stale.sock');
    // A host killed while serving: its socket file stays, nobody listens on it.
    const killed = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((resolve) => killed.on('exit', resolve));
    expect(existsSync(stale)).toBe(true);
    const t = terminal();
    expect(await run(['attach', stale], t.io)).toBe(1);
    expect(t.err()).toBe(`genesis: connection refused at ${stale}: nothing listens on it (a socket left behind by a host that exited?)\n`);

    const file = path.join(dir, 'notes.txt');
    writeFileSync(file, 'not a socket');
    const u = terminal();
    expect(await run(['attach', file], u.io)).toBe(1);
    expect(u.err()).toBe(`genesis: ${file} is not a socket\n`);
  });
});

describe('src/cli', () => {
  it('imports only Node built-ins and its own files: none of the runtime', () => {
    const folder = path.join(ROOT, 'src', 'cli');
    const imports = readdirSync(folder).flatMap((file) =>
      ts.preProcessFile(readFileSync(path.join(folder, file), 'utf8'), true, true).importedFiles.map((f) => `${file}: ${f.fileName}`),
    );
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !/: (node:|\.\/)/.test(i))).toEqual([]);
  });
});
