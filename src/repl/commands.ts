/**
 * The REPL's dot-commands: each takes the text after its name and returns what to print (or
 * throws: the session prints one `error: …` line). They only read and operate the system through
 * ReplHost; none of them holds a timer or a handle beyond its own call.
 */
import { inspect, types } from 'node:util';
import type { ActorRef } from '../core/ref.js';
import type { TreeNode } from '../supervision/tree.js';
import type { ReplHost } from './host.js';
import { killActor } from './kill.js';

/** A mistake in what was typed (a missing argument, bad JSON, no such actor): its message is the line printed. */
export class ReplUsageError extends Error {
  override name = 'ReplUsageError';
}

export interface ReplCommand {
  /** What `.help` shows after the command's name: its arguments. */
  args: string;
  help: string;
  /** True when the command's first argument is an actor path (completed on Tab). */
  takesPath: boolean;
  run(host: ReplHost, text: string): string | Promise<string>;
}

/** How long `.kill` waits for the actor's turn. */
const KILL_TIMEOUT_MS = 5_000;
/** Dead letters `.deadletters` lists by default. */
const DEAD_LETTERS_SHOWN = 10;

/** One line for any error: `CODE: message` for a typed Genesis error, its message otherwise. */
export function errorLine(error: unknown): string {
  if (error instanceof ReplUsageError) return oneLine(error.message);
  if (error instanceof Error || types.isNativeError(error)) {
    const code = (error as { code?: unknown }).code;
    return oneLine(typeof code === 'string' && code.length > 0 ? `${code}: ${error.message}` : `${error.name}: ${error.message}`);
  }
  return oneLine(`thrown: ${inspect(error, { breakLength: Infinity, depth: 2 })}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

// ---- Arguments ---------------------------------------------------------------------------

/** Splits off the first word: `[word, rest]`. */
function firstWord(text: string): [string, string] {
  const trimmed = text.trim();
  const at = trimmed.search(/\s/);
  return at < 0 ? [trimmed, ''] : [trimmed.slice(0, at), trimmed.slice(at).trim()];
}

function pathArg(text: string, usage: string): [string, string] {
  const [path, rest] = firstWord(text);
  if (path === '') throw new ReplUsageError(`usage: ${usage}`);
  if (!path.startsWith('/')) throw new ReplUsageError(`an actor path starts with / (got ${path})`);
  return [path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path, rest];
}

function liveRef(host: ReplHost, path: string): ActorRef {
  const ref = host.lookup(path);
  if (ref === undefined)
    throw new ReplUsageError(findNode(host.tree(), path) ? `${path} is not running (${findNode(host.tree(), path)!.status})` : `no actor at ${path}`);
  return ref;
}

function jsonArg(text: string, usage: string): unknown {
  if (text === '') throw new ReplUsageError(`usage: ${usage}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ReplUsageError(`bad JSON: ${(error as Error).message}`);
  }
}

function noArgs(text: string, command: string): void {
  if (text.trim() !== '') throw new ReplUsageError(`${command} takes no arguments`);
}

export function findNode(nodes: TreeNode[], path: string): TreeNode | undefined {
  for (const node of nodes) {
    if (node.path === path) return node;
    if (path.startsWith(`${node.path}/`)) return findNode(node.children, path);
  }
  return undefined;
}

/** Every actor path in the tree, depth first. */
export function allPaths(nodes: TreeNode[]): string[] {
  return nodes.flatMap((node) => [node.path, ...allPaths(node.children)]);
}

function show(value: unknown): string {
  return inspect(value, { depth: 6, breakLength: 100, maxArrayLength: 50, maxStringLength: 500 });
}

function indent(text: string, by: string): string {
  return text.replace(/\n/g, `\n${by}`);
}

// ---- The tree ----------------------------------------------------------------------------

/** What the tree shows of one node, after its name (extra fields a newer TreeNode may carry included). */
function describe(node: TreeNode): string {
  const extra = node as TreeNode & { essential?: boolean; snapshot?: unknown };
  const parts = [node.strategy === undefined ? node.kind : `${node.kind} ${node.strategy}`, node.status, `restarts ${node.restarts}`, `mailbox ${node.mailbox.size}`];
  if (node.mailbox.system > 0) parts.push(`system ${node.mailbox.system}`);
  if (node.breaker !== undefined) parts.push(`breaker ${node.breaker}`);
  if (extra.essential === true) parts.push('essential');
  return parts.join(' · ');
}

/** The supervision tree drawn with box characters, under a line naming the system and its mode. */
export function drawTree(host: ReplHost): string {
  const lines = [`${host.name} · mode ${host.mode}${host.isRunning ? '' : ' · shut down'}`];
  const draw = (nodes: TreeNode[], prefix: string) => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${node.name}  ${describe(node)}`);
      draw(node.children, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  const roots = host.tree();
  if (roots.length === 0) lines.push('└─ (no actors)');
  draw(roots, '');
  return lines.join('\n');
}

// ---- Commands ----------------------------------------------------------------------------

function inspectActor(host: ReplHost, text: string): string {
  const [path, rest] = pathArg(text, '.inspect <path>');
  if (rest !== '') throw new ReplUsageError('usage: .inspect <path>');
  const node = findNode(host.tree(), path);
  if (node === undefined) throw new ReplUsageError(`no actor at ${path}`);
  const row = (label: string, value: string) => `  ${label.padEnd(10)}${indent(value, ' '.repeat(12))}`;
  const { mailbox } = node;
  const lines = [
    `${node.path}  ${node.strategy === undefined ? node.kind : `${node.kind} ${node.strategy}`} · ${node.status}`,
    row('restarts', String(node.restarts)),
    row('mailbox', `${mailbox.size} (system lane ${mailbox.system}; by priority ${mailbox.byPriority.join('/')})`),
  ];
  if (node.breaker !== undefined) lines.push(row('breaker', node.breaker));
  for (const [key, value] of Object.entries(node)) {
    if (!['path', 'name', 'kind', 'status', 'restarts', 'mailbox', 'strategy', 'breaker', 'children'].includes(key)) lines.push(row(key, show(value)));
  }
  if (node.children.length > 0) lines.push(row('children', node.children.map((c) => c.name).join(', ')));
  lines.push(row('state', stateOf(host, path)));
  return lines.join('\n');
}

function stateOf(host: ReplHost, path: string): string {
  if (typeof host.getState !== 'function') return '(not available: this system has no getState)';
  try {
    return show(host.getState(path));
  } catch (error) {
    return `(unavailable: ${errorLine(error)})`;
  }
}

function tell(host: ReplHost, text: string): string {
  const usage = '.tell <path> <json>';
  const [path, rest] = pathArg(text, usage);
  const message = jsonArg(rest, usage);
  const ref = liveRef(host, path);
  if (!ref.tell(message)) throw new ReplUsageError(`not delivered to ${path} (see .deadletters)`);
  return `sent to ${path}`;
}

async function ask(host: ReplHost, text: string): Promise<string> {
  const usage = '.ask <path> <json>';
  const [path, rest] = pathArg(text, usage);
  const message = jsonArg(rest, usage);
  return show(await liveRef(host, path).ask(message));
}

async function kill(host: ReplHost, text: string): Promise<string> {
  const [path, rest] = pathArg(text, '.kill <path>');
  if (rest !== '') throw new ReplUsageError('usage: .kill <path>');
  await killActor(liveRef(host, path), KILL_TIMEOUT_MS);
  return `killed ${path}: its supervisor decides what follows (see .tree)`;
}

async function restart(host: ReplHost, text: string): Promise<string> {
  const [path, rest] = pathArg(text, '.restart <path>');
  if (rest !== '') throw new ReplUsageError('usage: .restart <path>');
  if (typeof host.restartChild !== 'function') throw new ReplUsageError('this system has no restartChild');
  await host.restartChild(path);
  return `restarted ${path}`;
}

async function stop(host: ReplHost, text: string): Promise<string> {
  const [path, rest] = pathArg(text, '.stop <path>');
  if (rest !== '') throw new ReplUsageError('usage: .stop <path>');
  const ref = liveRef(host, path);
  if (typeof host.terminateChild === 'function') {
    await host.terminateChild(path);
    return `stopped ${path} (its spec is kept: .restart ${path} starts it again)`;
  }
  await host.stop(ref);
  return `stopped ${path}`;
}

function mode(host: ReplHost, text: string): string {
  const [wanted, reason] = firstWord(text);
  if (wanted === '') return `mode ${host.mode}`;
  const before = host.mode;
  host.setMode(wanted as never, reason === '' ? 'set from the REPL' : reason);
  return wanted === 'auto' ? `mode ${host.mode} (driven by the health signals again)` : `mode ${host.mode} (was ${before})`;
}

function breakers(host: ReplHost, text: string): string {
  noArgs(text, '.breakers');
  const rows: string[] = [];
  const walk = (nodes: TreeNode[]) => {
    for (const node of nodes) {
      if (node.breaker !== undefined) rows.push(`${node.breaker.padEnd(10)}${node.path}`);
      walk(node.children);
    }
  };
  walk(host.tree());
  return rows.length === 0 ? 'no breakers yet (an actor has one once it has been asked)' : rows.join('\n');
}

function snapshots(host: ReplHost, text: string): string {
  const [path, rest] = pathArg(text, '.snapshots <path>');
  if (rest !== '') throw new ReplUsageError('usage: .snapshots <path>');
  const list = host.snapshots(path);
  if (list.length === 0) return findNode(host.tree(), path) === undefined ? `no actor at ${path}, and no snapshots of it` : `no snapshots of ${path}`;
  return list
    .map(
      (s) =>
        `#${String(s.seq).padEnd(6)} ${new Date(s.takenAt).toISOString()}  ${String(s.size).padStart(8)} B  v${s.version}  ${s.source}${s.holder === undefined ? '' : ` (${s.holder})`}`,
    )
    .join('\n');
}

async function rollback(host: ReplHost, text: string): Promise<string> {
  const usage = '.rollback <path> <seq>';
  const [path, rest] = pathArg(text, usage);
  if (!/^\d+$/.test(rest)) throw new ReplUsageError(rest === '' ? `usage: ${usage}` : `a snapshot seq is a non-negative integer (got ${rest})`);
  const seq = Number(rest);
  await host.restore(path, { seq });
  return `rolled ${path} back to snapshot #${seq}`;
}

function metrics(host: ReplHost, text: string): string {
  noArgs(text, '.metrics');
  return show(host.metrics());
}

function deadLetters(host: ReplHost, text: string): string {
  const wanted = text.trim();
  if (wanted !== '' && !/^\d+$/.test(wanted)) throw new ReplUsageError('usage: .deadletters [how many, default 10]');
  const count = wanted === '' ? DEAD_LETTERS_SHOWN : Number(wanted);
  const counts = host.deadLetters.counts();
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  const lines = [
    `${total} dead letters${
      total === 0
        ? ''
        : ` (${Object.entries(counts)
            .map(([reason, n]) => `${reason} ${n}`)
            .join(', ')})`
    }`,
  ];
  const list = count === 0 ? [] : host.deadLetters.list().slice(-count);
  for (const letter of list) {
    const message = inspect(letter.message, { breakLength: Infinity, depth: 2, maxStringLength: 200 });
    const error = letter.error instanceof Error ? ` — ${oneLine(letter.error.message)}` : '';
    lines.push(`  ${new Date(letter.at).toISOString()}  ${letter.reason.padEnd(14)} ${letter.path}  ${message}${error}`);
  }
  return lines.join('\n');
}

/** The commands, in the order `.help` lists them. */
export const COMMANDS: Record<string, ReplCommand> = {
  tree: {
    args: '',
    help: 'the supervision tree: kind, status, restarts, mailbox depth, breaker; the system mode',
    takesPath: false,
    run: (host, text) => {
      noArgs(text, '.tree');
      return drawTree(host);
    },
  },
  inspect: { args: '<path>', help: 'one actor: its counters, children and state', takesPath: true, run: inspectActor },
  tell: { args: '<path> <json>', help: 'send a message (JSON) to an actor', takesPath: true, run: tell },
  ask: { args: '<path> <json>', help: 'ask an actor (JSON) and print its reply, or the error', takesPath: true, run: ask },
  kill: { args: '<path>', help: 'crash an actor: its supervisor restarts it (or escalates)', takesPath: true, run: kill },
  restart: { args: '<path>', help: 'restart an actor through its supervisor', takesPath: true, run: restart },
  stop: { args: '<path>', help: 'stop an actor: no restart follows (its spec is kept: .restart starts it again)', takesPath: true, run: stop },
  mode: { args: '[mode [reason]]', help: 'show the system mode, or pin one (auto: back to the health signals)', takesPath: false, run: mode },
  breakers: { args: '', help: 'the actors with a breaker, and its state', takesPath: false, run: breakers },
  snapshots: { args: '<path>', help: "an actor's snapshots, newest first", takesPath: true, run: snapshots },
  rollback: { args: '<path> <seq>', help: 'roll an actor back to one of its snapshots', takesPath: true, run: rollback },
  metrics: { args: '', help: "the system's metrics", takesPath: false, run: metrics },
  deadletters: { args: '[n]', help: 'dead letters: counts by reason and the newest n (10)', takesPath: false, run: deadLetters },
};

/** `.help`: the commands, then what else a session has. */
export function helpText(exitHelp: string): string {
  const width = Math.max(...Object.entries(COMMANDS).map(([name, c]) => name.length + c.args.length + 2));
  const line = (name: string, args: string, help: string) => `  .${`${name} ${args}`.padEnd(width)} ${help}`;
  return [
    'Commands (a path is an actor path, /trading/strategy; Tab completes paths):',
    ...Object.entries(COMMANDS).map(([name, c]) => line(name, c.args, c.help)),
    line('help', '', 'this help'),
    line('exit', '', exitHelp),
    'JavaScript is evaluated too, with `system` and `lookup(path)` in scope (await works).',
  ].join('\n');
}
