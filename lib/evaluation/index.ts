export { evaluateRun, type Beat } from './run';
export { computeMetrics, DEFINITIONS } from './compute';
export { EvaluationInputError } from '../platform/errors';
export * from './types';
