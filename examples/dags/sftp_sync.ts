/**
 * The seed's `cake_sftp_pipeline` (seed 004) in TypeScript: an incremental
 * SFTP → SFTP file sync whose transform turns every whitespace character of
 * the content into `_`.
 *
 *   health_check → sync
 *
 * - `health_check` connects both sides, lists the source root and proves the
 *   destination can write; nothing moves if either side fails.
 * - `sync` sends the files after the pipeline's cursor (mtime, name), kept in
 *   the workspace's store, streaming them through the transform; each file is
 *   written under a temporary name and moved into place atomically (an
 *   existing file is backed up first and restored if it fails). Its XCom is
 *   the run summary (files synced / skipped / failed, bytes moved, cursor).
 *   A second run with nothing new at the source syncs nothing.
 *
 * Connections (looked up when the tasks run, so the DAG loads without them;
 * a missing one fails the task, naming the variable to set):
 *
 *   HANGAR_CONN_SFTP_SRC='sftp://user@127.0.0.1:2222/data/in?fingerprint=SHA256:…'
 *   HANGAR_CONN_SFTP_DST='sftp://user@127.0.0.1:2222/data/out?fingerprint=SHA256:…'
 *
 * The path is the absolute directory to sync from / into. The host key is
 * always verified: pin it with `fingerprint=SHA256:…` (`ssh-keyscan -p 2222
 * 127.0.0.1 | ssh-keygen -lf -`; URL-encode `+` as %2B and `/` as %2F) or
 * give `known_hosts=/path/to/known_hosts`. Authenticate with a password in the
 * URI (`sftp://user:secret@…`, masked in logs) or `private_key_file=/path`.
 * The ids can also be set under "connections" in hangar.json (keep passwords
 * out of it).
 *
 * Try it: `npx hangar run sftp_sync --workspace examples`; without servers of
 * your own, `npm run demo:sftp` starts two on 127.0.0.1 and runs it for you.
 */
import { dag, sftpSyncTasks } from 'hangar';

export const sftpSync = dag({
  id: 'sftp_sync',
  description: "Incremental SFTP → SFTP sync with the seed's whitespace-to-underscore transform",
  schedule: '@hourly',
  startDate: '2024-01-01',
  catchup: false,
  maxActiveRuns: 1,
  tags: ['sync', 'sftp', 'seed-004'],
});

sftpSyncTasks(sftpSync, {
  pipelineId: 'sftp_sync',
  source: 'sftp_src',
  destination: 'sftp_dst',
  transformers: ['whitespace_to_underscore'],
  // `manifest` also catches files copied in with an old mtime (slower: lists everything).
  mode: 'cursor',
  propagateDeletes: false,
  taskOptions: { retries: 2, retryDelay: '1m' },
});
