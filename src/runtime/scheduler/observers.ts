/**
 * Run observers: modules that watch a run while it executes, on the runtime's
 * clock, without being part of the run loop (SLA and deadline checks, metrics).
 * A module registers a factory once; every run loop creates one observer per run.
 */
import type { CallbackRequest, CallbackResult } from '../executor/types.ts';
import type { DagSpec } from '../processor/serialized.ts';
import type { RuntimeEvents } from '../events.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import type { Clock } from './clock.ts';

export interface RunObserverContext {
  readonly dag: DagSpec;
  readonly run: DagRunRecord;
  /** Runs a callback of the DAG's code where tasks run (never in this process). */
  runCallback(req: Pick<CallbackRequest, 'taskId' | 'name' | 'context'>): Promise<CallbackResult>;
  readonly store: Store;
  readonly clock: Clock;
  /** The runtime's events; an observer filters them by `dagId`/`runId` itself. */
  readonly events: RuntimeEvents;
}

export interface RunObserver {
  /** Called once when the run has ended (or the loop stopped); release timers and listeners here. */
  dispose(): void | Promise<void>;
}

export type RunObserverFactory = (ctx: RunObserverContext) => RunObserver | undefined;

const factories: RunObserverFactory[] = [];

export function registerRunObserver(factory: RunObserverFactory): void {
  if (!factories.includes(factory)) factories.push(factory);
}

export function runObserverFactories(): readonly RunObserverFactory[] {
  return factories;
}
