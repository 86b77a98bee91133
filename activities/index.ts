/** All TypeScript activities, built over the shared services a worker creates once. */
import type { ArtifactStore } from '../lib/store';
import { probeActivities } from './probe';

export function createActivities(store: ArtifactStore) {
  return {
    ...probeActivities(store),
  };
}

export type TsActivities = ReturnType<typeof createActivities>;
