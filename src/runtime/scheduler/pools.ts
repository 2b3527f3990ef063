/**
 * Pools limit how many task tries of a kind run at once, across every run of this runtime. A
 * named pool is also counted in the store, across every process sharing it (run-loop.ts).
 */
export class Pools {
  private readonly slots: Map<string, number>;
  private readonly used = new Map<string, number>();

  constructor(slots: Readonly<Record<string, number>>) {
    this.slots = new Map(Object.entries(slots));
  }

  tryAcquire(pool: string, n: number): boolean {
    const total = this.slots.get(pool);
    if (total === undefined) throw new Error(`Pool "${pool}" does not exist (configure it under "pools" in hangar.json)`);
    const used = this.used.get(pool) ?? 0;
    if (used + n > total && used > 0) return false;
    this.used.set(pool, used + n);
    return true;
  }

  /** A pool's number of slots (0 for a pool that is not configured). */
  size(pool: string): number {
    return this.slots.get(pool) ?? 0;
  }

  release(pool: string, n: number): void {
    this.used.set(pool, Math.max(0, (this.used.get(pool) ?? 0) - n));
  }

  usage(): Record<string, { used: number; total: number }> {
    const out: Record<string, { used: number; total: number }> = {};
    for (const [name, total] of this.slots) out[name] = { used: this.used.get(name) ?? 0, total };
    return out;
  }
}
