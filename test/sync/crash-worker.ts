/**
 * Child process of state-batch.test.ts: runs one SFTP → SFTP sync with batched
 * state writes and kills itself with SIGKILL (a crash: no finally, no flush)
 * right after the destination commits its N-th data point.
 */
import { readFileSync } from 'node:fs';
import { Store } from '../../src/runtime/store/store.ts';
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
  dbFile: string;
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
const store = await Store.open(job.dbFile);

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
  state: new SyncStateMachine(store.sync),
  concurrency: job.concurrency,
  stateBatchFiles: job.stateBatchFiles,
  // Only full batches are written before the crash: the test knows which.
  stateBatchMs: 600_000,
});
process.stdout.write('finished without crashing\n');
