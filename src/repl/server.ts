/**
 * The REPL served on a Unix socket (`system.serveRepl({ socket })`), for `genesis attach <socket>`
 * or any client: one session per connection, several at once. Never TCP: the socket file has
 * mode 0600, so only the host's user can connect. It is bound inside a fresh private directory
 * (mode 0700), chmod-ed, then renamed into place: no moment exists when another user could
 * connect, and the process umask is left alone. A socket file nobody listens on (left by a host
 * that exited) is replaced; one a server listens on is refused (SocketInUseError).
 */
import { chmod, lstat, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { ConfigError, SocketInUseError } from '../util/errors.js';
import { checkObject, knownKeys, show } from '../util/options.js';
import type { ReplHost } from './host.js';
import { type ReplSession, startSession } from './session.js';

/** `serveRepl`'s options. */
export interface ReplServerOptions {
  /** The path of the Unix socket to serve on (created with mode 0600). */
  socket: string;
}

/** A REPL being served: `close()` ends its sessions and removes the socket file. */
export interface ReplServer {
  /** The socket's path, as given. */
  readonly socket: string;
  /** Sessions connected now. */
  readonly sessions: number;
  /** Stops serving: ends every session and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

const SOCKET_MODE = 0o600;

export function checkReplServerOptions(options: unknown): ReplServerOptions {
  checkObject('serveRepl(options)', options);
  knownKeys('serveRepl(options)', options, ['socket']);
  const socket = (options as { socket?: unknown }).socket;
  if (typeof socket !== 'string' || socket.length === 0) {
    throw new ConfigError('serveRepl(options).socket', `must be the path of a Unix socket, a non-empty string (got ${show(socket)})`);
  }
  return { socket };
}

/** Serves `host`'s REPL on the Unix socket `options.socket`; resolves once it listens. */
export async function serveRepl(host: ReplHost, options: ReplServerOptions, onClose?: (served: ReplServer) => void): Promise<ReplServer> {
  const { socket } = checkReplServerOptions(options);
  const file = path.resolve(socket);
  await clearStale(file, socket);

  const sessions = new Map<Socket, ReplSession>();
  let closing: Promise<void> | null = null;
  const server = createServer({ allowHalfOpen: true }, (connection) => {
    connection.on('error', () => {}); // a peer gone abruptly: its 'close' ends the session
    if (closing !== null) {
      connection.destroy();
      return;
    }
    connection.write(`Genesis REPL · system '${host.name}' · mode ${host.mode}. .help lists the commands; .exit ends this session.\n`);
    const session = startSession(host, { input: connection, output: connection, terminal: true, exitHelp: 'end this session (the host keeps running)' });
    sessions.set(connection, session);
    host.log.info({ socket, sessions: sessions.size }, 'REPL session opened');
    connection.on('close', () => {
      session.close();
      if (sessions.delete(connection)) host.log.info({ socket, sessions: sessions.size }, 'REPL session closed');
    });
    void session.ended.then(() => connection.end());
  });
  server.on('error', (error) => host.log.error({ socket, err: error }, 'REPL server error'));
  const ino = await listenPrivately(server, file, socket);
  host.log.info({ socket }, `REPL served on ${socket}`);

  const served: ReplServer = {
    socket,
    get sessions() {
      return sessions.size;
    },
    close() {
      closing ??= (async () => {
        onClose?.(served);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const [connection, session] of sessions) {
          session.close();
          connection.destroy();
        }
        sessions.clear();
        await removeIfOurs(file, ino);
        await closed;
        host.log.info({ socket }, 'REPL server closed');
      })();
      return closing;
    },
  };
  return served;
}

/** Leaves the way clear at `file`: nothing there, or a stale socket removed. */
async function clearStale(file: string, socket: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(file)).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError('serveRepl(options).socket', `cannot use ${socket}: ${(error as Error).message}`);
  }
  if (!isSocket) throw new ConfigError('serveRepl(options).socket', `${socket} exists and is not a socket: it is left alone`);
  const listening = await new Promise<boolean>((resolve) => {
    const probe = connect({ path: file });
    probe.on('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: nobody listens (stale); any other failure: treat it as not ours to replace.
    probe.on('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'));
  });
  if (listening) throw new SocketInUseError(socket);
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Binds `server` in a new directory only this user can enter, sets the socket's mode, then moves
 * it to `file`. Resolves with its inode (so that close removes only its own file).
 */
async function listenPrivately(server: Server, file: string, socket: string): Promise<number> {
  let dir: string;
  try {
    dir = await mkdtemp(path.join(path.dirname(file), '.repl-'));
  } catch (error) {
    throw new ConfigError('serveRepl(options).socket', `cannot create ${socket}: ${(error as Error).message}`);
  }
  const temporary = path.join(dir, 's');
  let moved = false;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: temporary, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(temporary, SOCKET_MODE);
    await rename(temporary, file);
    moved = true;
    const info = await stat(file);
    if ((info.mode & 0o777) !== SOCKET_MODE) throw new Error(`its mode is ${(info.mode & 0o777).toString(8)}, not 600`);
    return info.ino;
  } catch (error) {
    server.close();
    if (moved) await unlink(file).catch(() => {});
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('serveRepl(options).socket', `cannot serve on ${socket}: ${(error as Error).message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function removeIfOurs(file: string, ino: number): Promise<void> {
  try {
    if ((await lstat(file)).ino === ino) await unlink(file);
  } catch {
    // already gone
  }
}
