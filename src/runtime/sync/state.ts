import { randomUUID } from 'node:crypto';
import { SyncError } from './errors.ts';
import type { SyncRepository } from '../store/repos/sync.ts';
import type { Cursor, FileResult, PointInfo, SyncSummary } from './types.ts';

export type { ManifestEntry } from '../store/repos/sync.ts';
import type { ManifestEntry } from '../store/repos/sync.ts';

export function validatePipelineId(pipelineId: unknown): string {
  if (typeof pipelineId !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(pipelineId)) {
    throw new SyncError(
      `invalid sync pipeline id ${JSON.stringify(pipelineId)}: use 1-200 letters, digits, "_", ".", ":" or "-"`,
    );
  }
  return pipelineId;
}

/**
 * A pipeline's view of its state: cursors, manifests and per-file results, kept
 * by the store's sync repository (`store.sync`, src/runtime/store/repos/sync.ts).
 * Checks pipeline ids; every write that must be atomic is one repository call.
 */
export class SyncStateMachine {
  readonly repo: SyncRepository;

  constructor(repo: SyncRepository) {
    this.repo = repo;
  }

  async getCursor(pipelineId: string): Promise<Cursor | null> {
    validatePipelineId(pipelineId);
    return await this.repo.getCursor(pipelineId);
  }

  /** Moves the cursor forward; refuses to move it backwards. */
  async advanceCursor(pipelineId: string, cursor: Cursor): Promise<void> {
    validatePipelineId(pipelineId);
    await this.repo.advanceCursor(pipelineId, cursor);
  }

  /** Forgets the cursor and manifest of a pipeline (a full re-sync next run). */
  async reset(pipelineId: string): Promise<void> {
    validatePipelineId(pipelineId);
    await this.repo.reset(pipelineId);
  }

  async getManifest(pipelineId: string): Promise<Map<string, ManifestEntry>> {
    validatePipelineId(pipelineId);
    return await this.repo.getManifest(pipelineId);
  }

  async beginRun(pipelineId: string, mode: 'cursor' | 'manifest'): Promise<string> {
    validatePipelineId(pipelineId);
    const runId = randomUUID();
    await this.repo.beginRun(runId, pipelineId, mode);
    return runId;
  }

  /**
   * Records a data point the destination committed: manifest, result and (when
   * given) the new cursor in one transaction.
   */
  async recordCommitted(runId: string, pipelineId: string, point: PointInfo, result: FileResult, cursor: Cursor | null = null): Promise<void> {
    await this.recordCommittedBatch(runId, pipelineId, [{ point, result }], cursor);
  }

  /**
   * Records a batch of data points the destination committed — manifest rows,
   * results and (when given) the new cursor — in one transaction: all or none.
   * The caller passes a cursor only over data points recorded by now or in
   * this batch, in order, so a crash before this commit re-sends the batch
   * and never skips a data point.
   */
  async recordCommittedBatch(
    runId: string,
    pipelineId: string,
    entries: readonly { point: PointInfo; result: FileResult }[],
    cursor: Cursor | null = null,
  ): Promise<void> {
    if (entries.length === 0 && cursor === null) return;
    await this.repo.recordCommittedBatch(runId, pipelineId, entries, cursor);
  }

  async recordFailure(runId: string, pipelineId: string, result: FileResult): Promise<void> {
    await this.repo.recordResult(runId, pipelineId, result);
  }

  async recordDeleted(runId: string, pipelineId: string, result: FileResult): Promise<void> {
    await this.repo.recordDeleted(runId, pipelineId, result);
  }

  async finishRun(runId: string, summary: SyncSummary | null, error?: string): Promise<void> {
    const status = summary === null ? 'failed' : summary.filesFailed > 0 ? 'partial' : 'success';
    await this.repo.finishRun(runId, status, summary, error ?? null);
  }

  async fileResults(runId: string): Promise<FileResult[]> {
    return await this.repo.fileResults(runId);
  }
}
