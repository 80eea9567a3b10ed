export { CacheLayout } from './layout.js';
export { ObjectStore, type ObjectCheck, type ObjectInfo } from './objects.js';
export { RunCache, hexDigestSchema, jsonValueSchema, type RunRecord, type JsonValue } from './run-cache.js';
export { Lease, type LeaseOptions } from './lease.js';
export { readLock, parseLock, serializeLock, writeLockSection, emptyLock, LOCK_SCHEMA_VERSION, type LockDoc, type LockPipeline, type LockStage } from './lockfile.js';
export { digestOfFile, digestOfSync } from './digest.js';
export { writeFileAtomic } from './atomic.js';
export { FileDigestCache } from './file-digests.js';
export { Store } from './store.js';
// Maintenance (./maintenance.js) and remotes (./remote/index.js) are imported from their own
// modules by the commands that use them: a plain `run` or `status` does not load them (6 modules).
