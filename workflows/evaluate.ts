/** Evaluates a planned run's fits on volcast-cpu (the train workflow calls the same activity). */
import type { EvaluateRequest, EvaluateResult } from '../contracts/types';
import { acts } from './proxies';

export async function evaluateWorkflow(input: EvaluateRequest): Promise<EvaluateResult> {
  return acts.evaluate(input);
}
