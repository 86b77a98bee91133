/**
 * onnxruntime-node sessions, cached by the model's sha256: a model scored in many folds or runs is
 * loaded once per worker. Single-threaded ops: the worker runs several activities on two cores.
 */
import * as ort from 'onnxruntime-node';

const MAX_SESSIONS = 32;
const sessions = new Map<string, Promise<ort.InferenceSession>>();

export function sessionFor(modelPath: string, sha256: string): Promise<ort.InferenceSession> {
  const hit = sessions.get(sha256);
  if (hit) {
    // Refresh the entry's position: the Map's insertion order is the eviction order.
    sessions.delete(sha256);
    sessions.set(sha256, hit);
    return hit;
  }
  const created = ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  created.catch(() => sessions.delete(sha256));
  sessions.set(sha256, created);
  // The oldest session is dropped from the cache; its native memory goes with the object (GC).
  while (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
  return created;
}

export const onnxRuntimeVersion = `onnxruntime-node ${(require('onnxruntime-node/package.json') as { version: string }).version}`;

export { ort };
