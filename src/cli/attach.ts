/**
 * `genesis attach <socket>`: a terminal connected to the REPL a host serves on a Unix socket
 * (`system.serveRepl({ socket })`). A plain client: what is typed goes to the socket, what the
 * host writes comes back. On a TTY the terminal is put in raw mode, so the host's REPL does the
 * line editing, completion and Ctrl-C; Ctrl-] detaches. Piped input (`echo .tree | genesis attach
 * s`) is sent as it is and half-closes the connection at its end, so the host answers and closes.
 */
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** The streams a command talks through (process.stdin/stdout/stderr, or fakes in tests). */
export interface Io {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
}

/** Ctrl-] — telnet's escape: detaches from the host without sending anything. */
const DETACH = 0x1d;

/** Exit codes: the session ended (the host closed it, or we detached) / connecting failed or the
 *  connection broke. Usage errors (2) are the caller's. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

/** Connects `io` to the REPL at `socketPath`; resolves with the exit code once the session ends. */
export function attach(socketPath: string, io: Io): Promise<number> {
  return new Promise((resolve) => {
    const { stdin, stdout, stderr } = io;
    const socket = connect({ path: socketPath });
    const raw = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
    let connected = false;
    let failure: string | null = null;

    const onInput = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = data.indexOf(DETACH);
      if (at < 0) {
        if (!socket.write(data)) stdin.pause();
        return;
      }
      if (at > 0) socket.write(data.subarray(0, at));
      stdout.write('\r\n');
      socket.end();
    };

    socket.on('connect', () => {
      connected = true;
      if (raw) {
        stdin.setRawMode!(true);
        stderr.write(`Attached to ${socketPath}. Ctrl-] detaches.\r\n`);
        stdin.on('data', onInput);
        socket.on('drain', () => stdin.resume());
        stdin.resume();
      } else {
        stdin.pipe(socket);
      }
      socket.pipe(stdout, { end: false });
    });

    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure = connected ? `connection to ${socketPath} lost: ${error.code ?? error.message}` : connectError(socketPath, error);
    });

    socket.on('close', () => {
      if (raw) {
        stdin.off('data', onInput);
        stdin.setRawMode!(false);
      } else {
        stdin.unpipe(socket);
      }
      stdin.pause(); // lets the process exit: a paused stdin holds no handle open
      if (failure !== null) stderr.write(`genesis: ${failure}\n`);
      resolve(failure === null ? EXIT_OK : EXIT_FAILED);
    });
  });
}

/** One line saying why the connection could not be made, and what usually causes it. */
function connectError(socketPath: string, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return `no socket at ${socketPath}: is the host running and serving its REPL there?`;
    case 'ECONNREFUSED':
      return isSocket(socketPath)
        ? `connection refused at ${socketPath}: nothing listens on it (a socket left behind by a host that exited?)`
        : `${socketPath} is not a socket`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied for ${socketPath}: the REPL socket is readable by the host's user only`;
    default:
      return `cannot connect to ${socketPath}: ${error.message}`;
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
