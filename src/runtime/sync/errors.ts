/** Errors raised by sync pipelines. Messages name the host, path or pipeline and never carry secrets. */

export class SyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncError';
  }
}

/** A connection, authentication, host key or protocol failure talking to an SFTP server. */
export class SftpError extends SyncError {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SftpError';
    this.code = code;
  }
}

/** An operation did not finish before its deadline; the connection was destroyed. */
export class SftpTimeoutError extends SftpError {
  constructor(message: string) {
    super('ETIMEDOUT', message);
    this.name = 'SftpTimeoutError';
  }
}

export class HostKeyError extends SftpError {
  constructor(code: 'HOST_KEY_UNKNOWN' | 'HOST_KEY_CHANGED' | 'HOST_KEY_REVOKED', message: string) {
    super(code, message);
    this.name = 'HostKeyError';
  }
}

/** The file's size or mtime changed while it was read: it is not committed and is retried next run. */
export class ChangedWhileReadError extends SyncError {
  constructor(message: string) {
    super(message);
    this.name = 'ChangedWhileReadError';
  }
}

/** A health check failed: nothing was transferred. */
export class HealthCheckError extends SyncError {
  readonly side: 'source' | 'destination';
  constructor(side: 'source' | 'destination', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HealthCheckError';
    this.side = side;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Replaces every occurrence of each secret in `text` with `***`. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s !== undefined && s.length >= 1) out = out.split(s).join('***');
  }
  return out;
}
