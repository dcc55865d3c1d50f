/**
 * Declared supervision trees: validated whole before anything runs, then started node by node —
 * supervisors start their children in order, pools their workers — and shown as plain data.
 */
import { type Behavior, defineActor, isBehavior, RUNTIME_BEHAVIORS } from '../core/actor.js';
import { type ActorCell, cellOfContext, Status, STATUS_NAMES } from '../core/cell.js';
import type { ActorContext } from '../core/context.js';
import { mailboxConfig } from '../core/mailbox.js';
import { CHILD_KEYS, childSpec } from '../core/spec.js';
import type { BreakerState } from '../resilience/breaker.js';
import { ConfigError } from '../util/errors.js';
import { checkName, checkObject, knownKeys } from '../util/options.js';
import { checkPoolOptions, POOL_KEYS, PoolActor, poolNodeSpec } from './pool.js';
import { DEFAULT_SUPERVISION, type SupervisorSpec, supervisionConfig, type TreeSpec } from './spec.js';
import { Supervision } from './supervision.js';

/**
 * Checks a whole tree; throws a ConfigError naming the option (with its path in the tree).
 * Iterative, so that a tree of any depth is checked without growing the stack.
 */
export function validateTree(root: TreeSpec): void {
  const stack: [TreeSpec, string][] = [[root, '/']];
  while (stack.length > 0) {
    const [spec, at] = stack.pop()!;
    const path = validateNode(spec, at);
    if (spec.kind !== 'supervisor') continue;
    const names = new Set<string>();
    const children = spec.options.children;
    for (let i = children.length - 1; i >= 0; i--) {
      const node = children[i]!;
      if (node !== null && typeof node === 'object' && typeof node.name === 'string') {
        if (names.has(node.name)) throw new ConfigError(`${path}: children`, `duplicate child name '${node.name}'`);
        names.add(node.name);
      }
      stack.push([node, path]);
    }
  }
}

/** Checks one node's own options; returns its path. */
function validateNode(spec: TreeSpec, at: string): string {
  if (spec === null || typeof spec !== 'object' || !['worker', 'supervisor', 'pool'].includes(spec.kind)) {
    throw new ConfigError(at, 'is not a tree node made by supervisor(…), child(…) or pool(…)');
  }
  const path = `${at === '/' ? '' : at}/${checkName(`name of ${at} child`, spec.name)}`;
  const where = `${path}: `;
  if (spec.kind === 'worker' || spec.kind === 'pool') {
    if (!isBehavior(spec.behavior)) throw new ConfigError(`${where}behavior`, 'is not a behavior made by defineActor');
    if (spec.kind === 'pool') checkPoolOptions(spec.options, where);
    else checkObject(`${where}options`, spec.options);
    knownKeys(`${path} options`, spec.options, spec.kind === 'pool' ? POOL_KEYS : CHILD_KEYS);
    childSpec(spec.options, where);
    mailboxConfig(spec.options.mailbox, `${where}mailbox`);
    return path;
  }
  checkObject(`${where}options`, spec.options);
  knownKeys(`${path} options`, spec.options, ['strategy', 'intensity', 'backoff', 'children', 'restart', 'shutdownMs']);
  supervisionConfig(spec.options, where);
  childSpec({ restart: spec.options.restart, shutdownMs: spec.options.shutdownMs }, where);
  if (!Array.isArray(spec.options.children)) throw new ConfigError(`${where}children`, 'must be an array of tree nodes');
  return path;
}

/** The actor behind a `supervisor(…)` node: its init starts the children in order. */
export const SupervisorActor: Behavior<null, unknown, SupervisorSpec> = defineActor<null, unknown, SupervisorSpec>({
  // Not an `async` function: a supervisor asks no one, so its init needs no tracked run.
  init: (spec, ctx) => startChildren(spec, ctx as ActorContext),
  receive() {},
});
RUNTIME_BEHAVIORS.add(SupervisorActor);

/**
 * OTP's start order: each child starts once the previous one's init has settled (running, or
 * given up); the supervisor is running once all have. The await per child also keeps a deep
 * tree's start off the stack: each level continues on a microtask.
 */
async function startChildren(spec: SupervisorSpec, ctx: ActorContext): Promise<null> {
  const cell = cellOfContext(ctx);
  cell.supervision = new Supervision(cell.system, supervisionConfig(spec.options, ''), cell);
  for (const node of spec.options.children) {
    await null;
    if (!ctx.current || cell.status !== Status.Starting) break; // this incarnation is ending
    await spawnNode(node, cell).whenStarted();
  }
  return null;
}

/** Starts a node of a declared tree under `parent` (null: the top level); already validated. */
export function spawnNode(node: TreeSpec, parent: ActorCell | null, runtime = parent!.system): ActorCell {
  if (node.kind === 'worker') {
    return runtime.spawnCell(node.behavior, node.name, node.options.args, mailboxConfig(node.options.mailbox), childSpec(node.options, ''), parent);
  }
  // A supervisor or pool node: its own spec is its restart and shutdown (and a pool's own
  // breaker, `poolBreaker`); a pool's other options (breaker, mailbox, …) are its workers'.
  const { restart, shutdownMs } = node.options;
  const behavior: Behavior = node.kind === 'pool' ? PoolActor : SupervisorActor;
  const spec = node.kind === 'pool' ? poolNodeSpec(node.options) : childSpec({ restart, shutdownMs }, '');
  return runtime.spawnCell(behavior, node.name, node, mailboxConfig(undefined), spec, parent);
}

/**
 * The depth of one actor's mailbox in `system.tree()`.
 *
 * @example
 * ```ts
 * const [node] = system.tree();
 * const urgent = node ? node.mailbox.byPriority[0] : 0;
 * ```
 */
export interface MailboxView {
  /** Messages waiting in the priority lanes (what `capacity` bounds). */
  size: number;
  /** Runtime messages waiting in the system lane. */
  system: number;
  /** Messages waiting per priority, 0 … 4. */
  byPriority: number[];
}

/**
 * One actor in `system.tree()`, with its children, as plain data.
 *
 * @example
 * ```ts
 * const show = (node: TreeNode, depth = 0): string[] =>
 *   [`${'  '.repeat(depth)}${node.name} ${node.status} restarts=${node.restarts}`, ...node.children.flatMap((c) => show(c, depth + 1))];
 * console.log(system.tree().flatMap((node) => show(node)).join('\n'));
 * ```
 */
export interface TreeNode {
  path: string;
  name: string;
  kind: 'supervisor' | 'worker' | 'pool';
  status: (typeof STATUS_NAMES)[number];
  restarts: number;
  mailbox: MailboxView;
  /** The supervision strategy, for supervisors and actors with children. */
  strategy?: string;
  /** The state of the actor's breaker, once it has been asked. */
  breaker?: BreakerState;
  children: TreeNode[];
}

/** The actors as plain data, each with its children, in start order. */
export function treeView(cells: Iterable<ActorCell>): TreeNode[] {
  const node = (cell: ActorCell): TreeNode => {
    const depths = cell.mailbox.depths();
    const isSupervisor = cell.behavior === SupervisorActor;
    const view: TreeNode = {
      path: cell.path,
      name: cell.name,
      kind: isSupervisor ? 'supervisor' : cell.behavior === PoolActor ? 'pool' : 'worker',
      status: STATUS_NAMES[cell.status],
      restarts: cell.restarts,
      mailbox: { size: cell.mailbox.size, system: depths.system, byPriority: depths.byPriority },
      children: cell.children ? [...cell.children.values()].map(node) : [],
    };
    if (isSupervisor || view.children.length > 0) view.strategy = cell.supervision?.strategy ?? DEFAULT_SUPERVISION.strategy;
    if (cell.breaker !== null) view.breaker = cell.breaker.state;
    return view;
  };
  return [...cells].map(node);
}
