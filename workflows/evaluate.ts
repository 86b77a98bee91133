/** Evaluates a run's fitted models on volcast-cpu (the train workflow calls the same activity). */
import type { EvaluateInput, EvaluateResult } from '../lib/evaluation/types';
import { acts } from './proxies';

export async function evaluateWorkflow(input: EvaluateInput): Promise<EvaluateResult> {
  return acts.evaluate(input);
}
