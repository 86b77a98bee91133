export { evaluateRun, type Beat } from './run';
export { computeMetrics, DEFINITIONS } from './compute';
export { barMs, horizonBars, BASELINE_KINDS, isBaselineKind, EvaluationInputError } from './horizon';
export * from './types';
