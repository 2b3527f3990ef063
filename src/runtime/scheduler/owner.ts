/**
 * Who runs a run: the process (pid) on a machine (host). Several schedulers may share one
 * PostgreSQL store from different machines, so a pid alone names nothing: a run's owner is
 * its pid and host, and a process on another host is taken for alive only while its
 * heartbeat is fresh (a process on this host is also checked with kill(pid, 0)).
 *
 * The host is os.hostname(), or HANGAR_HOSTNAME when set (Airflow's hostname_callable: for
 * containers that share a hostname, or machines whose hostname changes).
 */
import { hostname } from 'node:os';
import type { DagRunRecord } from '../store/records.ts';

export interface RunOwner {
  readonly pid: number;
  readonly host: string;
}

let me: RunOwner | undefined;

/** This process as a run owner. */
export function selfOwner(): RunOwner {
  me ??= { pid: process.pid, host: process.env.HANGAR_HOSTNAME?.trim() || hostname() };
  return me;
}

/** This machine's name as stored with runs and tries. */
export function hostName(): string {
  return selfOwner().host;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "pid 123 on host-a", for messages. */
export function describeOwner(run: Pick<DagRunRecord, 'owner_pid' | 'owner_host'>): string {
  return `pid ${run.owner_pid ?? '?'}${run.owner_host ? ` on ${run.owner_host}` : ''}`;
}

/**
 * Whether the runtime that owns a run is gone: nobody owns it (a scheduler that stopped left
 * it), or its heartbeat is older than `staleMs`, or (on this host) its process is dead.
 * A run this process owns is never gone. Rows written before owners had hosts count as this host's.
 */
export function ownerGone(
  run: Pick<DagRunRecord, 'owner_pid' | 'owner_host' | 'heartbeat_at'>,
  now: number,
  staleMs: number,
  isAlive: (pid: number) => boolean = processAlive,
): boolean {
  if (run.owner_pid === null) return true;
  const self = selfOwner();
  const host = run.owner_host ?? self.host;
  if (host === self.host && run.owner_pid === self.pid) return false;
  const fresh = run.heartbeat_at !== null && now - Date.parse(run.heartbeat_at) < staleMs;
  if (!fresh) return true;
  return host === self.host && !isAlive(run.owner_pid);
}
