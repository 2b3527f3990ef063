import { dag, sftpSyncTasks } from 'hangar';

/**
 * An incremental SFTP → SFTP sync (`health_check` → `sync`), then a report on its summary.
 * The connections are looked up when the tasks run, so the DAG loads without them:
 *
 *   HANGAR_CONN_SFTP_SRC='sftp://user@host:22/abs/src?fingerprint=SHA256%3A…'
 *   HANGAR_CONN_SFTP_DST='sftp://user@host:22/abs/dst?fingerprint=SHA256%3A…'
 *   npx hangar run new_dag
 *
 * Host keys are always verified: pin one with `fingerprint=` or give `known_hosts=/path`.
 */
export const newDag = dag({
  id: 'new_dag',
  description: 'Incremental SFTP → SFTP sync',
  schedule: '@hourly',
  startDate: '2024-01-01',
  maxActiveRuns: 1,
});

const { sync } = sftpSyncTasks(newDag, {
  source: 'sftp_src',
  destination: 'sftp_dst',
  transformers: ['pass_through'],
  // `manifest` also catches files copied in with an old mtime (slower: it lists everything).
  mode: 'cursor',
  taskOptions: { retries: 2, retryDelay: '1m' },
});

newDag.task('report', { inputs: { summary: sync } }, async (ctx, { summary }) => {
  /*cursor*/ ctx.log.info(
    `${summary.filesSynced} synced, ${summary.filesSkipped} skipped, ${summary.filesFailed} failed`,
  );
  if (summary.filesFailed > 0)
    throw new Error(`${summary.filesFailed} file(s) failed: ${summary.failures.map((f) => f.id).join(', ')}`);
  return { synced: summary.filesSynced, bytes: summary.bytesMoved };
});
