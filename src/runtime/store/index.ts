export { Store, nowIso } from './store.ts';
export type { StoreOptions } from './store.ts';
export { MIGRATIONS } from './migrations.ts';
export type { Migration } from './migrations.ts';
export * from './records.ts';
