/** The public API of Genesis. Everything not exported here is internal. */
export { ActorSystem } from './system.js';
export type { ClusterOptions, Escalation, SystemOptions, TreeNode, MailboxView, SystemMetrics } from './system.js';
export type { BreakerCounts, LatencyPercentiles, RestartCounts } from './observability/metrics.js';
export type { MetricsServer, ServeMetricsOptions } from './observability/prometheus.js';
export type { ReplServer, ReplServerOptions } from './repl/server.js';
export { defineActor, isBehavior } from './core/actor.js';
export type {
  ActorDefinition,
  AskOptions,
  Behavior,
  Context,
  DeferredReply,
  DownSignal,
  ModeSignal,
  ExitReason,
  PublishOptions,
  Signal,
  SpawnOptions,
  TellOptions,
} from './core/actor.js';
export { ActorRef } from './core/ref.js';
export { supervisor, child, pool } from './supervision/spec.js';
export type { HedgeOptions, PoolOptions, PoolSpec, Routing } from './supervision/spec.js';
export { breakerMachine, Breaker } from './resilience/breaker.js';
export type { BreakerOptions, BreakerState, TransitionListener } from './resilience/breaker.js';
export { resilient } from './resilience/resilient.js';
export type {
  AttemptContext,
  AutoTimeoutPolicy,
  BulkheadPolicy,
  Fallback,
  HedgePolicy,
  ResilientFunction,
  ResilientPolicy,
  ResilientStats,
  RetryPolicy,
} from './resilience/resilient.js';
export { LatencyHistogram } from './resilience/latency.js';
export type { ChildOptions, RestartType } from './core/spec.js';
export type {
  BackoffOptions,
  Intensity,
  Strategy,
  SupervisorOptions,
  SupervisorSpec,
  TreeSpec,
  WorkerSpec,
} from './supervision/spec.js';
export type { ActorEvent } from './core/events.js';
export type { MailboxOptions, OverflowPolicy } from './core/mailbox.js';
export type { DeadLetter, DeadLetterReason } from './core/dead-letters.js';
export { DeadLetters } from './core/dead-letters.js';
export { realClock, SimulatedClock } from './util/clock.js';
export { MODES, modesMachine } from './modes/modes-machine.js';
export type { Mode, ModeThresholds } from './modes/modes-machine.js';
export type { ModesOptions } from './modes/modes.js';
export type { SkippedRow, SnapshotRow, SnapshotStore } from './persistence/snapshot-store.js';
export type { SnapshotInfo, SnapshotMetrics } from './persistence/snapshots.js';
export type { SnapshotOptions } from './core/spec.js';
export { SqliteSnapshotStore } from './persistence/sqlite-store.js';
export type { SqliteStoreOptions } from './persistence/sqlite-store.js';
export { MemorySnapshotStore } from './persistence/memory-store.js';
export type { Clock } from './util/clock.js';
export {
  isGenesisError,
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
  EscalationError,
  OverloadedError,
  StoreLockedError,
  NotASnapshotStoreError,
  SocketInUseError,
  NodeDownError,
  ClusterUnreachableError,
  MessageTooLargeError,
} from './util/errors.js';
