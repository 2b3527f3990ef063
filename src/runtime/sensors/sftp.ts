/**
 * SFTP sensor on the sync layer's connection code (host keys verified,
 * deadlines on every request, secrets redacted): a path, or a wildcard pattern
 * in the path's last segment, optionally only files newer than a time and of
 * a minimum size. One connection per poke, closed whatever happens.
 */
import { posix } from 'node:path';
import type { FileEntryWithStats, Stats } from 'ssh2';
import { callerPosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import type { TaskRef } from '../dag/types.ts';
// Loaded on first poke: ssh2 is not needed by runtimes that never poke over SFTP.
import type * as SftpConnectionModule from '../sync/sftp-connection.ts';
import type { SftpConnectionOptions } from '../sync/sftp-connection.ts';
type SftpModule = typeof SftpConnectionModule;
import { defineSensor } from './engine.ts';
import { wildcardRegExp } from './object-key.ts';
import type { PokeContext, PokeReturnValue, SftpSensorOptions } from './types.ts';

export interface SftpMatch {
  path: string;
  size: number;
  mtime: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function connectionOf(
  m: SftpModule,
  c: SftpSensorOptions['connection'],
  what: string,
): SftpConnectionOptions {
  try {
    if (typeof c === 'string') return m.parseSftpUri(c).options;
    const o = { ...c } as SftpConnectionOptions;
    m.validateSftpOptions(o);
    return o;
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

function isNotFound(m: SftpModule, err: unknown): boolean {
  return (err as { code?: string }).code === 'ENOENT' || m.sftpStatusOf(err) === m.SFTP_STATUS.NO_SUCH_FILE;
}

/** Without secrets: what a listing shows. */
function labelOf(c: SftpSensorOptions['connection']): string {
  if (typeof c === 'string') {
    try {
      const u = new URL(c);
      return `${decodeURIComponent(u.username)}@${u.host}`;
    } catch {
      return 'sftp';
    }
  }
  return `${c.username}@${c.host}:${c.port ?? 22}`;
}

export function sftpSensor(dag: Dag<any>, id: string, options: SftpSensorOptions): TaskRef<SftpMatch[]> {
  const position = callerPosition();
  const what = `SFTP sensor "${String(id)}" of DAG "${dag?.id}"`;
  if (!options || typeof options.path !== 'string' || !options.path.startsWith('/'))
    throw new DagDefinitionError(`${what} needs an absolute path`, position, dag?.id);
  if (/[*?[]/.test(posix.dirname(options.path)))
    throw new DagDefinitionError(
      `${what}: wildcards are allowed in the last path segment only ("${options.path}")`,
      position,
      dag?.id,
    );
  const c = options.connection;
  if (
    !(typeof c === 'string'
      ? c.startsWith('sftp://')
      : c && typeof c === 'object' && typeof c.host === 'string')
  ) {
    throw new DagDefinitionError(
      `${what}: connection must be an sftp:// URI or { host, username, hostKey, … }`,
      position,
      dag?.id,
    );
  }
  const minSize = options.minSize ?? 0;
  const poke = async (ctx: PokeContext): Promise<PokeReturnValue<SftpMatch[]>> => {
    const path = ctx.render(options.path);
    let newer: number | undefined;
    if (options.newerThan !== undefined) {
      const text =
        options.newerThan instanceof Date ? options.newerThan.toISOString() : ctx.render(options.newerThan);
      newer = Date.parse(text);
      if (Number.isNaN(newer)) throw new Error(`${what}: newerThan "${text}" is not a time`);
    }
    const log = {
      info: (m: string) => ctx.log.info(m),
      warn: (m: string) => ctx.log.warn(m),
      error: (m: string) => ctx.log.error(m),
      debug: (m: string) => ctx.log.debug(m),
    };
    const m: SftpModule = await import('../sync/sftp-connection.ts');
    const session = await m.SftpSession.connect(connectionOf(m, c, what), log);
    const onAbort = () => session.destroy();
    ctx.pokeSignal.addEventListener('abort', onAbort, { once: true });
    try {
      const candidates: SftpMatch[] = [];
      const base = posix.basename(path);
      if (/[*?[]/.test(base)) {
        const dir = posix.dirname(path);
        const re = wildcardRegExp(base);
        let entries: FileEntryWithStats[] = [];
        try {
          entries = await session.op<FileEntryWithStats[]>('readdir', dir, (cb) =>
            session.sftp.readdir(dir, cb),
          );
        } catch (err) {
          if (!isNotFound(m, err)) throw err;
        }
        for (const e of entries) {
          if (!re.test(e.filename) || (e.attrs.mode & S_IFMT) !== S_IFREG) continue;
          candidates.push({
            path: posix.join(dir, e.filename),
            size: e.attrs.size,
            mtime: new Date(e.attrs.mtime * 1000).toISOString(),
          });
        }
      } else {
        try {
          const s = await session.op<Stats>('stat', path, (cb) => session.sftp.stat(path, cb));
          if ((s.mode & S_IFMT) === S_IFREG)
            candidates.push({ path, size: s.size, mtime: new Date(s.mtime * 1000).toISOString() });
        } catch (err) {
          if (!isNotFound(m, err)) throw err;
        }
      }
      const taken = candidates
        .filter((c) => c.size >= minSize && (newer === undefined || Date.parse(c.mtime) > newer))
        .sort((a, b) => (a.path < b.path ? -1 : 1));
      if (taken.length === 0) {
        ctx.log.info(
          `No file on ${session.label} for ${path}${newer !== undefined ? ` newer than ${new Date(newer).toISOString()}` : ''}${minSize ? ` (min size ${minSize} B)` : ''} (${candidates.length} candidate(s))`,
        );
        return { done: false };
      }
      ctx.log.info(`Found on ${session.label}: ${taken.map((t) => `${t.path} (${t.size} B)`).join(', ')}`);
      return { done: true, value: taken };
    } finally {
      ctx.pokeSignal.removeEventListener('abort', onAbort);
      await session.close();
    }
  };
  return defineSensor(dag, id, options, poke, 'sftp', `${labelOf(c)}${options.path}`, position);
}
