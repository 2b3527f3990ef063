import type { StoredXCom, XComBackend, XComLocation } from './types.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The simplest backend: the value as JSON, inline in the SQLite row. */
export class InlineJsonBackend implements XComBackend {
  readonly name = 'database';

  async serialize(loc: XComLocation, value: unknown): Promise<StoredXCom> {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      throw new Error(
        `XCom "${loc.key}" pushed by task "${loc.taskId}" cannot be serialized: ${(err as Error).message}`,
      );
    }
    if (json === undefined) json = 'null';
    const data = encoder.encode(json);
    return { data, chain: ['json'], sizeOriginal: data.byteLength, sizeStored: data.byteLength, sensitive: false };
  }

  async deserialize(loc: XComLocation, data: Uint8Array): Promise<unknown> {
    try {
      return JSON.parse(decoder.decode(data));
    } catch (err) {
      throw new Error(
        `XCom "${loc.key}" of task "${loc.taskId}" in run "${loc.runId}" is corrupt: ${(err as Error).message}`,
      );
    }
  }

  async purge(): Promise<void> {}
}
