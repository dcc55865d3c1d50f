/** The public API of Genesis. Everything not exported here is internal. */
export { ActorSystem } from './system.js';
export type { Escalation, SystemOptions, TreeNode, MailboxView, SystemMetrics } from './system.js';
export { defineActor, isBehavior } from './actor.js';
export type {
  ActorDefinition,
  AskOptions,
  Behavior,
  Context,
  DeferredReply,
  DownSignal,
  ExitReason,
  PublishOptions,
  Signal,
  SpawnOptions,
  TellOptions,
} from './actor.js';
export { ActorRef } from './ref.js';
export { supervisor, child, EscalationError } from './supervisor.js';
export { pool } from './pool.js';
export type { HedgeOptions, PoolOptions, PoolSpec, Routing } from './pool.js';
export { breakerMachine, Breaker } from './breaker.js';
export type { BreakerOptions, BreakerState } from './breaker.js';
export { resilient } from './resilient.js';
export { LatencyHistogram } from './latency.js';
export type {
  BackoffOptions,
  ChildOptions,
  Intensity,
  RestartType,
  Strategy,
  SupervisorOptions,
  SupervisorSpec,
  TreeSpec,
  WorkerSpec,
} from './supervisor.js';
export type { ActorEvent } from './events.js';
export type { MailboxOptions, OverflowPolicy } from './mailbox.js';
export type { DeadLetter, DeadLetterReason } from './dead-letters.js';
export { DeadLetters } from './dead-letters.js';
export { realClock, SimulatedClock } from './clock.js';
export type { SkippedRow, SnapshotRow, SnapshotStore } from './snapshot-store.js';
export type { SnapshotInfo, SnapshotMetrics, SnapshotOptions } from './snapshots.js';
export { NotASnapshotStoreError, SqliteSnapshotStore, StoreLockedError } from './sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export { MemorySnapshotStore } from './memory-store.js';
export type { Clock } from './clock.js';
export {
  GenesisError,
  TimeoutError,
  DeadlockError,
  CircuitOpenError,
  MailboxFullError,
  NoReplyError,
  ActorStoppedError,
  SystemStoppedError,
  SnapshotCorruptError,
  CheckpointError,
  ConfigError,
} from './errors.js';
