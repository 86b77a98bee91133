/** All TypeScript activities, built over the shared services a worker creates once. */
import { loadConfig, type VolcastConfig } from '../lib/config';
import type { ArtifactStore } from '../lib/store';
import { evaluateActivities } from './evaluate';
import { ingestActivities } from './ingest';
import { probeActivities } from './probe';

export function createActivities(store: ArtifactStore, cfg: VolcastConfig = loadConfig()) {
  return {
    ...probeActivities(store),
    ...evaluateActivities(store),
    ...ingestActivities(store, cfg),
  };
}

export type TsActivities = ReturnType<typeof createActivities>;
