/**
 * `node --test --test-global-setup=test/helpers/global-setup.ts` (npm run test:postgres):
 * under `HANGAR_TEST_STORE=postgres`, one PostgreSQL server for the whole run, started
 * before the first test file and stopped after the last. The test processes inherit its
 * coordinates in `HANGAR_TEST_PG` (test/helpers/postgres.ts) and create their databases on
 * it instead of each starting a server of its own. Under SQLite it does nothing.
 */
import {
  SHARED_SERVER_ENV,
  postgresServerSync,
  sharedServerEnv,
  stopPostgresServer,
  testStoreKind,
} from './postgres.ts';

export function globalSetup(): void {
  if (testStoreKind() !== 'postgres' || process.env[SHARED_SERVER_ENV]) return;
  process.env[SHARED_SERVER_ENV] = sharedServerEnv(postgresServerSync());
}

export function globalTeardown(): void {
  stopPostgresServer();
}
