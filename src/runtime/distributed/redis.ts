/** Redis connection options for BullMQ from a `redis://` URL, and how outages are reported. */
import type { RedisOptions } from 'ioredis';

/** ioredis options of a `redis[s]://[user:password@]host:port[/db]` URL. Commands wait through an outage (BullMQ needs that). */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: db ? Number(db) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    // Reconnect every ½–2 s while Redis is away, for as long as it takes.
    retryStrategy: (times: number) => Math.min(500 * times, 2000),
  };
}

/**
 * One line per outage, not one per failed reconnect: `report` gets "unreachable" once, and
 * "reachable again" once it is back.
 */
export class OutageReporter {
  private down = false;
  private readonly where: string;
  private readonly report: (message: string) => void;

  constructor(where: string, report: (message: string) => void) {
    this.where = where;
    this.report = report;
  }

  error = (err: Error): void => {
    if (this.down) return;
    this.down = true;
    const code = (err as Error & { code?: string }).code;
    this.report(`Redis ${this.where} unreachable (${code ?? err.message}); waiting for it to come back`);
  };

  ok = (): void => {
    if (!this.down) return;
    this.down = false;
    this.report(`Redis ${this.where} reachable again`);
  };
}
