/**
 * Real small filesystems for the disk tests (test/chaos/disk.test.ts): tmpfs mounts, which need
 * root (.ci/run runs as root). A refused mount is a failure that says so, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';

export class Mounts {
  private readonly mounted: string[] = [];

  /** Mounts a tmpfs of `size` (e.g. "24m") at dir; `readOnly` mounts it read-only. */
  tmpfs(dir: string, size: string, readOnly = false): void {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${size},mode=0755${readOnly ? ',ro' : ''}`, 'tmpfs', dir],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) {
      throw new Error(
        `This test needs root to mount a tmpfs (mount -t tmpfs -o size=${size} tmpfs ${dir} failed: ${(r.stderr || r.error?.message || '').trim()}); run it as root, as .ci/run does`,
      );
    }
    this.mounted.push(dir);
  }

  /** mount -o remount,rw|ro. */
  remount(dir: string, mode: 'rw' | 'ro'): void {
    const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount -o remount,${mode} ${dir} failed: ${r.stderr.trim()}`);
  }

  /** Unmounts everything mounted here, the last first; lazily, so that a file still open cannot keep a mount. */
  unmountAll(): void {
    for (const dir of this.mounted.splice(0).reverse()) spawnSync('umount', ['-l', dir]);
  }
}

/** Writes zeros to file until the filesystem is full (ENOSPC); returns the bytes written. */
export function fillDisk(file: string): number {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // The last partial block: fill to the very last byte.
  const fd2 = openSync(file, 'a');
  try {
    for (;;) written += writeSync(fd2, Buffer.alloc(512));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd2);
  }
  return written;
}
