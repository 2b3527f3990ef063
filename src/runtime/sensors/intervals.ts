/**
 * Interval strategies: how long a sensor waits after a "not yet".
 * Pure functions of the poke count, the previous interval and the history, so
 * a rescheduled or restarted sensor continues its sequence from the store.
 */
import { durationMs } from '../dag/duration.ts';
import type { Duration } from '../dag/duration.ts';
import type { IntervalInfo, IntervalStrategy, Jitter } from './types.ts';

export const DEFAULT_POKE_INTERVAL_MS = 60_000;

const dms = (d: Duration): number => durationMs(d, 'pokeInterval');

/** Normalises `pokeInterval` (a duration or a strategy) and checks it; `what` names the sensor in errors. */
export function toStrategy(value: Duration | IntervalStrategy | undefined, what: string): IntervalStrategy {
  if (value === undefined) return { kind: 'fixed', interval: DEFAULT_POKE_INTERVAL_MS / 1000 };
  if (typeof value === 'number' || typeof value === 'string') {
    durationMs(value, `${what} pokeInterval`);
    return { kind: 'fixed', interval: value };
  }
  if (!value || typeof value !== 'object' || !('kind' in value))
    throw new Error(
      `${what}: pokeInterval must be a duration or a strategy ({ kind: 'fixed' | 'linear' | 'exponential' | 'adaptive' | 'custom', … })`,
    );
  const ms = (d: Duration, field: string) => durationMs(d, `${what} pokeInterval.${field}`);
  switch (value.kind) {
    case 'fixed':
      ms(value.interval, 'interval');
      break;
    case 'linear':
      ms(value.initial, 'initial');
      if (value.step !== undefined) ms(value.step, 'step');
      if (value.maxWait !== undefined) ms(value.maxWait, 'maxWait');
      break;
    case 'exponential':
      ms(value.initial, 'initial');
      ms(value.maxWait, 'maxWait');
      if (value.multiplier !== undefined && !(value.multiplier >= 1))
        throw new Error(`${what}: pokeInterval.multiplier must be ≥ 1`);
      break;
    case 'adaptive':
      if (ms(value.max, 'max') < ms(value.base, 'base'))
        throw new Error(`${what}: pokeInterval.max is below pokeInterval.base`);
      if (value.window !== undefined && !(Number.isInteger(value.window) && value.window > 0))
        throw new Error(`${what}: pokeInterval.window must be a whole number > 0`);
      if (value.divisor !== undefined && !(value.divisor > 0))
        throw new Error(`${what}: pokeInterval.divisor must be > 0`);
      break;
    case 'custom':
      if (typeof value.next !== 'function')
        throw new Error(`${what}: a custom pokeInterval needs next(info) => duration`);
      break;
    default:
      throw new Error(`${what}: unknown pokeInterval kind "${String((value as { kind: unknown }).kind)}"`);
  }
  const j = value.jitter;
  if (
    j !== undefined &&
    j !== 'full' &&
    j !== 'equal' &&
    j !== 'decorrelated' &&
    !(typeof j === 'object' && j.ratio >= 0 && j.ratio <= 1)
  ) {
    throw new Error(
      `${what}: pokeInterval.jitter must be 'full', 'equal', 'decorrelated' or { ratio: 0..1 }`,
    );
  }
  return value;
}

/** The interval before jitter. */
export function baseInterval(s: IntervalStrategy, info: IntervalInfo): number {
  const n = Math.max(0, info.pokes - 1);
  switch (s.kind) {
    case 'fixed':
      return dms(s.interval);
    case 'linear': {
      const v = dms(s.initial) + n * dms(s.step ?? s.initial);
      return s.maxWait === undefined ? v : Math.min(v, dms(s.maxWait));
    }
    case 'exponential': {
      const max = dms(s.maxWait);
      // Capped before it can overflow.
      const v = dms(s.initial) * Math.pow(s.multiplier ?? 2, Math.min(n, 64));
      return Math.min(v, max);
    }
    case 'adaptive': {
      const base = dms(s.base);
      const max = dms(s.max);
      const recent = info.history.recentWaitsMs.slice(-(s.window ?? 10));
      if (recent.length === 0) return base;
      const avg = recent.reduce((a, b) => a + b, 0) / recent.length;
      return Math.round(Math.min(max, Math.max(base, avg / (s.divisor ?? 4))));
    }
    case 'custom': {
      return durationMs(s.next(info), 'custom pokeInterval');
    }
  }
}

/** The lower and upper bound of a strategy (decorrelated jitter and adaptive clamps use them). */
function bounds(s: IntervalStrategy, base: number): { min: number; max: number } {
  switch (s.kind) {
    case 'exponential':
      return { min: dms(s.initial), max: dms(s.maxWait) };
    case 'linear':
      return { min: dms(s.initial), max: s.maxWait === undefined ? Infinity : dms(s.maxWait) };
    case 'adaptive':
      return { min: dms(s.base), max: dms(s.max) };
    default:
      return { min: base, max: Infinity };
  }
}

export function applyJitter(
  jitter: Jitter | undefined,
  d: number,
  s: IntervalStrategy,
  previous: number | undefined,
  random: () => number,
): number {
  if (jitter === undefined) return d;
  if (jitter === 'full') return random() * d;
  if (jitter === 'equal') return d / 2 + random() * (d / 2);
  if (jitter === 'decorrelated') {
    const { min, max } = bounds(s, d);
    const prev = previous ?? min;
    const hi = Math.max(min, prev * 3);
    return Math.min(max, min + random() * (hi - min));
  }
  return d * (1 - jitter.ratio + 2 * jitter.ratio * random());
}

/** The interval to wait after a "not yet", in whole milliseconds (at least 1 ms). */
export function nextInterval(
  s: IntervalStrategy,
  info: IntervalInfo,
  random: () => number = Math.random,
): number {
  const base = baseInterval(s, info);
  const v = applyJitter(s.jitter, base, s, info.previousMs, random);
  return Math.max(1, Math.round(v));
}

/** A short label of the strategy, recorded with each poke. */
export function describeStrategy(s: IntervalStrategy): string {
  const j =
    s.jitter === undefined
      ? ''
      : typeof s.jitter === 'string'
        ? `+${s.jitter}-jitter`
        : `+±${s.jitter.ratio * 100}%`;
  return `${s.kind}${j}`;
}
