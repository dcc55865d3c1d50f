/**
 * The `genesis` command: arguments in, an exit code out. It imports nothing of the runtime (a
 * host serves what the commands talk to), so it starts fast and stays apart from src/'s layers.
 *
 * Exit codes: 0 done, 1 the command failed (say, no host at the socket), 2 bad usage (an unknown
 * command or option, a missing argument) — one line on stderr, like other Unix tools.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { attach, EXIT_OK, type Io } from './attach.js';

export type { Io } from './attach.js';

export const EXIT_USAGE = 2;

export const HELP = `genesis — the command line of Genesis, an actor runtime for Node.js

Usage:
  genesis attach <socket>   connect this terminal to the REPL a host serves on a Unix socket
                            (system.serveRepl({ socket })); Ctrl-] detaches
  genesis --help, -h        show this help
  genesis --version, -v     print the version

Exit codes: 0 done, 1 the command failed (no host at the socket, connection lost), 2 bad usage.
`;

const ATTACH_HELP = `Usage: genesis attach <socket>

Connects this terminal to the REPL a host process serves on the Unix socket <socket>
(system.serveRepl({ socket })). On a terminal, keys go to the host's REPL as they are typed
(line editing, completion and Ctrl-C are the REPL's); Ctrl-] detaches. Piped input is sent as
it is, and the session ends once the host has answered it:

  echo .tree | genesis attach /run/trading/repl.sock
`;

/** Runs the command `argv` (the arguments after `genesis`); resolves with the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`genesis: ${message} (see genesis --help)\n`);
    return EXIT_USAGE;
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usage(parseError(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version === true) {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  if (command === undefined) {
    if (values.help === true) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    return usage('a command is required');
  }
  switch (command) {
    case 'attach': {
      if (values.help === true) {
        io.stdout.write(ATTACH_HELP);
        return EXIT_OK;
      }
      const [socket, ...extra] = rest;
      if (socket === undefined || socket === '') return usage('attach needs the path of a REPL socket');
      if (extra.length > 0) return usage(`attach takes one socket, got also '${extra.join(' ')}'`);
      return attach(socket, io);
    }
    case 'help':
      io.stdout.write(HELP);
      return EXIT_OK;
    default:
      return usage(`unknown command '${command}'`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowPositionals: true,
    strict: true,
  });
}

/** parseArgs's message, first sentence only: "Unknown option '--x'". */
function parseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/\.\s/)[0] ?? message;
  return first
    .replace(/\.$/, '')
    .replace(/^Unknown option/, 'unknown option')
    .replace(/^Option/, 'option');
}

/** The version in the package's package.json (two levels up from src/cli/ and dist/cli/ alike). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
