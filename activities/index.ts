/** All TypeScript activities, built over the shared services a worker creates once. */
import { loadConfig, type VolcastConfig } from '../lib/platform/config';
import type { ArtifactStore } from '../lib/platform/store';
import type { TsActivities } from '../contracts/activities';

export type { TsActivities };
import { evaluateActivities } from './evaluate';
import { ingestActivities } from './ingest';
import { featureActivities } from './features';
import { probeActivities } from './probe';
import { scoreActivities } from './score';
import { trainingActivities } from './training';
import { promotionActivities } from './promotion';
import { housekeepingActivities } from './housekeeping';

export function createActivities(store: ArtifactStore, cfg: VolcastConfig = loadConfig()): TsActivities {
  return {
    ...probeActivities(store),
    ...evaluateActivities(store),
    ...ingestActivities(store, cfg),
    ...featureActivities(store, cfg),
    ...trainingActivities(store),
    ...promotionActivities(store),
    ...scoreActivities(store, cfg),
    ...housekeepingActivities(store),
  };
}

