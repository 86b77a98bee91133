/**
 * The activity contract: every activity's task-queue role, language, timeouts and retry policy
 * (contracts/activities.json) and the types of its input and result, in one place. Workflows call
 * activities only through workflows/proxies.ts, which reads the options from here; each worker
 * refuses to start if its implementations differ from the catalog. Pure: workflow code imports it.
 */
import catalogJson from './activities.json';
import type { QueueRole } from '../temporal.config';
import type {
  ApplyHousekeepingInput, ApplyHousekeepingResult, PlanHousekeepingInput, PlanHousekeepingResult,
  BuildFeaturesInput, BuildFeaturesResult, ChampionRecord, CommitServingInput, CommitServingResult, DecideInput, Decision, EvaluateRequest, EvaluateResult, FitInput,
  FitRequest, FitResult, IngestInput, IngestResult, PlanTrainingInput, ScoreBarInput, ScoreBarResult, ScoreLatestInput, ScoreLatestResult, Series, TrainingPlan, VerifyProbeInput, VerifyProbeResult,
  WriteProbeInput, WriteProbeResult,
} from './types';

export type * from './types';

export type Language = 'typescript' | 'python';
export type RetryPolicyName = keyof typeof catalogJson.retryPolicies;
export interface CatalogEntry {
  queue: QueueRole;
  language: Language;
  /** Temporal duration strings. */
  startToClose: string;
  /** null: the activity is short and does not heartbeat. */
  heartbeat: string | null;
  retry: RetryPolicyName;
}
export interface RetryPolicySpec {
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
  maximumAttempts: number;
}

export type ActivityName = keyof Activities;
// Compile-time: the JSON declares every activity of the interfaces (the workers check the rest at start).
const declared: Record<ActivityName, unknown> = catalogJson.activities;
export const catalog = declared as Record<ActivityName, CatalogEntry>;
export const retryPolicies = catalogJson.retryPolicies as Record<RetryPolicyName, RetryPolicySpec>;
export const ACTIVITY_NAMES = Object.keys(catalog).sort() as ActivityName[];

export function activitiesFor(language: Language, queue?: QueueRole): ActivityName[] {
  return ACTIVITY_NAMES.filter((n) => catalog[n].language === language && (queue === undefined || catalog[n].queue === queue));
}

/** Fails when the implementations a worker registers differ from what the catalog declares. */
export function checkImplementations(language: Language, implemented: string[]): void {
  const declared: string[] = activitiesFor(language);
  const missing = declared.filter((n) => !implemented.includes(n));
  const extra = implemented.filter((n) => !declared.includes(n));
  if (missing.length || extra.length) {
    throw new Error(
      `activity catalog mismatch for ${language}: missing implementations [${missing.join(', ')}], not in contracts/activities.json [${extra.join(', ')}]`,
    );
  }
}

/** The activities of the TypeScript worker (catalog language "typescript"; test/catalog.test.ts checks). */
export interface TsActivities {
  writeProbe(input: WriteProbeInput): Promise<WriteProbeResult>;
  ingest(input: IngestInput): Promise<IngestResult>;
  buildFeatures(input: BuildFeaturesInput): Promise<BuildFeaturesResult>;
  planTraining(input: PlanTrainingInput): Promise<TrainingPlan>;
  evaluate(input: EvaluateRequest): Promise<EvaluateResult>;
  getChampion(input: { series: Series; target: string }): Promise<ChampionRecord | null>;
  /** Unacknowledged quality flags of the rows a run uses ([from, to] open times, ms). */
  dataQualityFlags(input: { series: Series; from: number; to: number }): Promise<string[]>;
  /** The gates' verdict on a run's metrics (lib/promotion/gates.ts). */
  decide(input: DecideInput): Promise<Decision>;
  /** Parity of the serving fit, then the champion written (or held) and decision.json. */
  commitServing(input: CommitServingInput): Promise<CommitServingResult>;
  /** One pair on a stored feature set: what score runs started before SCORE_TAIL_PATCH replay (workflows/score.ts). */
  scoreLatest(input: ScoreLatestInput): Promise<ScoreLatestResult>;
  /** Housekeeping's deletion plan, written to housekeeping/{planId}/plan.json (lib/housekeeping). */
  planHousekeeping(input: PlanHousekeepingInput): Promise<PlanHousekeepingResult>;
  /** Deletes what the plan names and a fresh plan at the same clock still deletes. */
  applyHousekeeping(input: ApplyHousekeepingInput): Promise<ApplyHousekeepingResult>;
  /** Every pair of a score run on feature rows from the candle tail. */
  scoreBar(input: ScoreBarInput): Promise<ScoreBarResult>;
}

/** The activities of the Python trainer (workers/trainer.py; catalog language "python"). */
export interface PythonActivities {
  verifyProbe(input: VerifyProbeInput): Promise<VerifyProbeResult>;
  /** Statistical and tree models, on the train-cpu queue: one fit of a plan (or a bare FitInput). */
  fitModel(input: FitRequest | FitInput): Promise<FitResult>;
  /** Neural models, on the gpu queue. */
  fitNeuralModel(input: FitRequest | FitInput): Promise<FitResult>;
}

/** Every activity of volcast, by name: what workflows may call (through workflows/proxies.ts). */
export type Activities = TsActivities & PythonActivities;
