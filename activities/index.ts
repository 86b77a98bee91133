/** All TypeScript activities, built over the shared services a worker creates once. */
import type { ArtifactStore } from '../lib/store';
import { featureActivities } from './features';
import { probeActivities } from './probe';

export function createActivities(store: ArtifactStore) {
  return {
    ...probeActivities(store),
    ...featureActivities(store),
  };
}

export type TsActivities = ReturnType<typeof createActivities>;
