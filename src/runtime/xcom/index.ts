/**
 * XComs: the backends, their envelope, keys and maintenance. See docs/xcom-format.md.
 */
import { HangarXComBackend } from './backend.ts';
import type { XComBackendContext, XComOptions } from './backend.ts';

export type { XComBackend, XComLocation, StoredXCom, SerializeOptions, XComLogFn } from './types.ts';
export { XComError, describeXCom } from './errors.ts';
export type { XComErrorCode } from './errors.ts';
export { HangarXComBackend, BACKEND_NAMES } from './backend.ts';
export type { BackendName, XComOptions, XComBackendContext, XComStats } from './backend.ts';
export { Keyring, generateXComKey, keysFromEnv, keysFromFile, keyFromPassphrase, loadKeyring, parseKeyMaterial, associatedData } from './crypto.ts';
export type { XComKey, KeySources } from './crypto.ts';
export { encodeValue, decodeValue, SensitivityDetector, DEFAULT_SENSITIVE_KEYWORDS, identifierWords } from './serializer.ts';
export { decodeEnvelope, encodeEnvelope, isEnvelope, ENVELOPE_VERSION } from './envelope.ts';
export type { EnvelopeHeader, Layer, CompressionLayer, EncryptionLayer, OffloadLayer, HybridDecision, CompressionAlgorithm } from './envelope.ts';
export { LocalDirStore, S3Store, encodeSegment } from './stores.ts';
export type { BlobStore, S3StoreOptions } from './stores.ts';
export { rotateXComKeys, clearXComs, sweepOrphans, decodeXCom, listXComLineage } from './maintenance.ts';
export type {
  RotateOptions,
  RotationProgress,
  ClearFilter,
  ClearResult,
  SweepOptions,
  SweepResult,
  DecodedValue,
  RawXCom,
  IntegrityReport,
  XComLineage,
} from './maintenance.ts';
export { writeXComFile, writeXComRecords, openXComFile, readXComRecords } from './file-ref.ts';
export type { XComFileRef, WriteFileOptions } from './file-ref.ts';

/** Workspace configuration of XComs (`hangar.json` → `xcom`); see XComOptions for every field. */
export type XComConfig = XComOptions;

/** Builds the backend named in the configuration (default `database`). */
export function createXComBackend(config: XComConfig, ctx: XComBackendContext): HangarXComBackend {
  return new HangarXComBackend(config, ctx);
}
