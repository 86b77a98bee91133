/** Builds a feature set from the candle lake (one activity on volcast-cpu; bulk data stays in MinIO). */
import type { BuildFeaturesInput, BuildFeaturesResult } from '../contracts/activities';
import { acts } from './proxies';

export async function buildFeaturesWorkflow(input: BuildFeaturesInput): Promise<BuildFeaturesResult> {
  return acts.buildFeatures(input);
}
