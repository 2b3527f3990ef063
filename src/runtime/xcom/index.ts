import type { XComBackend } from './types.ts';
import { InlineJsonBackend } from './inline-json.ts';

export type { XComBackend, XComLocation, StoredXCom, SerializeOptions } from './types.ts';

/** Workspace configuration of XComs (`hangar.json` → `xcom`). */
export interface XComConfig {
  /** Backend name; 'database' stores values inline in SQLite. */
  readonly backend?: string;
  readonly [option: string]: unknown;
}

export interface XComBackendContext {
  /** Absolute path of the workspace. */
  readonly workspaceRoot: string;
  /** Absolute path of the directory offloaded XCom files live under. */
  readonly xcomRoot: string;
}

/** Builds the backend named in the configuration. */
export function createXComBackend(config: XComConfig, _ctx: XComBackendContext): XComBackend {
  const name = config.backend ?? 'database';
  switch (name) {
    case 'database':
      return new InlineJsonBackend();
    default:
      throw new Error(`Unknown XCom backend "${name}" in the workspace configuration (known: database)`);
  }
}
