/**
 * Child process of state-batch.test.ts: runs one SFTP → SFTP sync with batched
 * state writes and kills itself with SIGKILL (a crash: no finally, no flush)
 * right after the destination commits its N-th data point, the full batches
 * before it recorded: the crash comes between batch commits.
 */
import { readFileSync } from 'node:fs';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SftpDestination, SftpSource } from '../../src/runtime/sync/sftp.ts';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import type { Destination, DestinationWrite, PointInfo } from '../../src/runtime/sync/types.ts';

export interface CrashJob {
  host: string;
  port: number;
  username: string;
  privateKeyFile: string;
  knownHostsFile: string;
  src: string;
  dst: string;
  /** The store: a SQLite file or a postgres:// URL (the test's). */
  store: string;
  stateBatchFiles: number;
  concurrency: number;
  /** SIGKILL right after this many destination commits. */
  killAfterCommits: number;
}

const job = JSON.parse(process.argv[2]!) as CrashJob;
const connection = {
  host: job.host,
  port: job.port,
  username: job.username,
  privateKey: readFileSync(job.privateKeyFile),
  hostKey: { knownHostsFile: job.knownHostsFile },
};
const store = await Store.open(parseStoreTarget(job.store, '/'));

/** Counts the batches recorded, so that the crash comes after the full batches before it. */
class CountingState extends SyncStateMachine {
  recorded = 0;
  private waiters: (() => void)[] = [];
  override async recordCommittedBatch(
    ...args: Parameters<SyncStateMachine['recordCommittedBatch']>
  ): Promise<void> {
    await super.recordCommittedBatch(...args);
    this.recorded++;
    for (const w of this.waiters.splice(0)) w();
  }
  async recordedAtLeast(n: number): Promise<void> {
    while (this.recorded < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}
const state = new CountingState(store.sync);
// The batches full before the crash are recorded before the files after them are committed: how long
// recording takes is the store's (at once on SQLite; round trips to a PostgreSQL server), and a crash
// in the middle of a batch's transaction is not the case this test is about.
const fullBatches = Math.floor(job.killAfterCommits / job.stateBatchFiles);

const inner = new SftpDestination({ connection, root: job.dst });
let commits = 0;
const destination: Destination = {
  description: inner.description,
  connect: () => inner.connect(),
  healthCheck: () => inner.healthCheck(),
  remove: (id) => inner.remove(id),
  close: () => inner.close(),
  async begin(point: PointInfo): Promise<DestinationWrite> {
    const w = await inner.begin(point);
    return {
      write: (chunk) => w.write(chunk),
      async commit() {
        if (commits >= fullBatches * job.stateBatchFiles) await state.recordedAtLeast(fullBatches);
        await w.commit();
        if (++commits === job.killAfterCommits) process.kill(process.pid, 'SIGKILL');
      },
      revert: () => w.revert(),
      release: () => w.release(),
      get bytesWritten() {
        return w.bytesWritten;
      },
    };
  },
};

await runSync({
  pipelineId: 'crash',
  source: new SftpSource({ connection, root: job.src }),
  destination,
  state,
  concurrency: job.concurrency,
  stateBatchFiles: job.stateBatchFiles,
  // Only full batches are written before the crash: the test knows which.
  stateBatchMs: 600_000,
});
process.stdout.write('finished without crashing\n');
