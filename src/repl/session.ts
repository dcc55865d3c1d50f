/**
 * One REPL session (node:repl) on any pair of streams — a Unix socket's connection, or
 * stdin/stdout for `npm run repl`. Dot-commands operate the system (commands.ts); anything else
 * is JavaScript with `system` and `lookup` in scope. Whatever is typed, the host stays up: a
 * command's error, sync or async, is one `error: …` line, and commands run one after another in
 * the order typed; JavaScript's errors are node:repl's `Uncaught …` (its domain catches what
 * callbacks throw later, a rejected promise left unawaited included); process.exit is refused.
 */
import repl, { type REPLEval, type REPLServer } from 'node:repl';
import type { Readable, Writable } from 'node:stream';
import { allPaths, COMMANDS, errorLine, helpText } from './commands.js';
import type { ReplHost } from './host.js';

export interface ReplSessionOptions {
  input: Readable;
  output: Writable;
  /** Line editing, echo and completion by the REPL (a raw-mode client such as `genesis attach`). */
  terminal: boolean;
  /** What `.exit` does, as `.help` says it. */
  exitHelp: string;
}

export interface ReplSession {
  /** Settles once the session has ended (`.exit`, end of input, `close()`) and what it was running has finished. */
  readonly ended: Promise<void>;
  /** Ends the session now (what is in flight still finishes, with no one to print to). */
  close(): void;
}

type Completer = (line: string, callback: (error: Error | null, result: [string[], string]) => void) => void;

/** Starts a REPL session operating `host` on the given streams. */
export function startSession(host: ReplHost, options: ReplSessionOptions): ReplSession {
  const { input, output } = options;
  const server = repl.start({
    input,
    output,
    terminal: options.terminal,
    prompt: `${host.name}> `,
    useGlobal: false,
    ignoreUndefined: true,
    preview: false,
    useColors: false,
  });
  // readline forwards its input's errors (a peer gone: ECONNRESET) to the REPL: the session ends.
  server.on('error', () => server.close());
  let exited = false;
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  /** Commands running or waiting: they run one after another, in the order typed. */
  let busy = 0;
  let chain: Promise<void> = Promise.resolve();
  const settle = () => {
    if (exited && busy === 0) finish();
  };
  const print = (text: string) => {
    if (output.writable && !(output as { destroyed?: boolean }).destroyed) output.write(`${text}\n`);
  };
  const printError = (error: unknown) => print(`error: ${errorLine(error)}`);
  const prompt = () => {
    if (!exited) server.displayPrompt();
  };
  /** Runs one command: its output printed, any error as one line, then the prompt again. */
  const run = (work: () => string | Promise<string>) => {
    if (busy === 0) {
      // Nothing ahead of it: a synchronous command answers at once.
      let result: string | Promise<string>;
      try {
        result = work();
      } catch (error) {
        printError(error);
        prompt();
        return;
      }
      if (typeof result === 'string') {
        print(result);
        prompt();
        return;
      }
      const pending = result;
      work = () => pending;
    }
    busy++;
    chain = chain
      .then(work)
      .then(print, printError)
      .catch(() => {}) // printing itself failed: the connection is gone
      .finally(() => {
        busy--;
        prompt();
        settle();
      });
  };

  for (const [name, command] of Object.entries(COMMANDS)) {
    server.defineCommand(name, { help: command.help, action: (text: string) => run(() => command.run(host, text)) });
  }
  server.defineCommand('help', { help: 'the commands', action: () => run(() => helpText(options.exitHelp)) });
  // `.exit` keeps node:repl's meaning (close this REPL); only its help text is ours.
  const exit = server.commands.exit;
  if (exit !== undefined) exit.help = options.exitHelp;

  // Defined, not assigned: the context copies globalThis's accessors, and assigning `process`
  // through one would replace the host's own global.
  const scope = (context: object) => {
    const define = (name: string, value: unknown) => Object.defineProperty(context, name, { value, writable: true, configurable: true, enumerable: false });
    define('system', host);
    define('lookup', (path: string) => host.lookup(path));
    define('process', guardedProcess);
    define('queueMicrotask', (callback: () => void) =>
      queueMicrotask(() => {
        try {
          callback();
        } catch (error) {
          print(`Uncaught ${errorLine(error)}`);
        }
      }),
    );
  };
  scope(server.context);
  server.on('reset', scope); // .clear makes a new context

  // JavaScript: errors on one line; a promise left unawaited cannot become an unhandled rejection.
  const evaluate = server.eval;
  const guarded: REPLEval = function (this: REPLServer, code, context, file, callback) {
    evaluate.call(this, code, context, file, (error, result) => {
      if (isThenable(result)) result.then(undefined, () => {});
      if (error !== null && !(error instanceof repl.Recoverable)) {
        print(`Uncaught ${errorLine(error)}`);
        callback(null, undefined);
      } else callback(error, result);
    });
  };
  (server as { eval: REPLEval }).eval = guarded;

  // Tab after a command that takes a path completes actor paths; the rest is node:repl's.
  const completeJs = server.completer as Completer;
  const completer: Completer = (line, callback) => {
    const match = /^\s*\.(\w+)\s+(\S*)$/.exec(line);
    const command = match === null ? undefined : COMMANDS[match[1]!];
    if (match === null || command === undefined || !command.takesPath) {
      completeJs.call(server, line, callback);
      return;
    }
    const prefix = match[2]!;
    let paths: string[] = [];
    try {
      paths = allPaths(host.tree()).filter((path) => path.startsWith(prefix));
    } catch {
      // the tree could not be read: nothing to offer
    }
    callback(null, [paths, prefix]);
  };
  (server as unknown as { completer: Completer }).completer = completer;

  server.on('exit', () => {
    exited = true;
    settle();
  });
  return {
    ended,
    close: () => {
      if (!exited) server.close();
    },
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** `process` as the REPL's JavaScript sees it: whatever it does, it does not end the host. */
const guardedProcess: NodeJS.Process = new Proxy(process, {
  get(target, key) {
    if (key === 'exit' || key === 'abort' || key === 'reallyExit') {
      return () => {
        const error = new Error(`process.${key} is refused in a REPL session (.exit ends the session)`);
        error.stack = `Error: ${error.message}`; // the REPL prints it as one line
        throw error;
      };
    }
    return Reflect.get(target, key);
  },
});
