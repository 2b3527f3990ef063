/**
 * The store's disk failing under it: full (ENOSPC), read-only (EROFS) or failing (EIO). SQLite
 * reports these as SQLITE_FULL, SQLITE_READONLY and SQLITE_IOERR (node:sqlite's `errcode`, an
 * extended result code whose low byte is the primary one); the SQLite driver turns them into a
 * StoreUnwritableError that names the store's file, so that what the user reads is one line
 * saying where and why, not "database or disk is full" and a stack.
 */
export type DiskErrorCode = 'ENOSPC' | 'EROFS' | 'EIO';

export class StoreUnwritableError extends Error {
  readonly code: DiskErrorCode;
  /** The store's file. */
  readonly location: string;

  constructor(location: string, code: DiskErrorCode, detail: string) {
    const why =
      code === 'ENOSPC'
        ? 'its disk is full (ENOSPC)'
        : code === 'EROFS'
          ? 'its file system is read-only (EROFS)'
          : `a disk I/O error (EIO: ${detail})`;
    super(`The store ${location} cannot be written: ${why}`);
    this.name = 'StoreUnwritableError';
    this.code = code;
    this.location = location;
  }
}

// SQLite's primary result codes (https://sqlite.org/rescode.html).
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

/** The error as a StoreUnwritableError when it is the disk's (else the error itself). */
export function diskError(err: unknown, location: string): unknown {
  if (err instanceof StoreUnwritableError) return err;
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number') return err;
  const detail = String((err as { errstr?: unknown }).errstr ?? (err as Error).message);
  switch (errcode & 0xff) {
    case SQLITE_FULL:
      return new StoreUnwritableError(location, 'ENOSPC', detail);
    case SQLITE_READONLY:
      return new StoreUnwritableError(location, 'EROFS', detail);
    case SQLITE_IOERR:
      return new StoreUnwritableError(location, 'EIO', detail);
    default:
      return err;
  }
}

/**
 * Whether an error (or what a try reported, as text) is the store's disk failing: what stops a
 * run loop rather than failing a try. The text form is for results that crossed a process
 * boundary as strings.
 */
export function isStoreUnwritable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StoreUnwritableError || (e as Error).name === 'StoreUnwritableError') return true;
  }
  return false;
}
