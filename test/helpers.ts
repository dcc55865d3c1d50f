import { afterEach } from 'vitest';
import { ActorSystem, type SystemOptions, type TreeNode } from '../src/index.js';

const started: ActorSystem[] = [];

/** A quiet system, with snapshots in memory, that is shut down after the test. */
export async function startSystem(options: SystemOptions = {}): Promise<ActorSystem> {
  const system = await ActorSystem.start({ logger: { level: process.env.LOG_LEVEL ?? 'silent' }, store: ':memory:', ...options });
  started.push(system);
  return system;
}

afterEach(async () => {
  for (const system of started.splice(0)) await system.shutdown();
});

/** Resolves after the event loop has had a full turn (all queued messages handled by then). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits until `predicate` holds, turning the event loop (bounded by real time). */
export async function until(predicate: () => boolean, limitMs = 2000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > limitMs) throw new Error('condition not reached');
    await nextTurn();
  }
}

/** The node at `path` in a tree view (system.tree()), depth first. */
export function findNode(nodes: TreeNode[], path: string): TreeNode | undefined {
  for (const n of nodes) {
    if (n.path === path) return n;
    const hit = findNode(n.children, path);
    if (hit) return hit;
  }
  return undefined;
}
