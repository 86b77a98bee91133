/** All TypeScript activities, built over the shared services a worker creates once. */
import type { ArtifactStore } from '../lib/store';
import { evaluateActivities } from './evaluate';
import { probeActivities } from './probe';

export function createActivities(store: ArtifactStore) {
  return {
    ...probeActivities(store),
    ...evaluateActivities(store),
  };
}

export type TsActivities = ReturnType<typeof createActivities>;
