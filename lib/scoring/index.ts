/**
 * Scores a model artifact on a window of a feature set: builds the input tensor per card.input,
 * runs onnxruntime-node in batches and returns {ts, vol, sigma?} for the scorable rows.
 */
import type { ModelCard } from './modelCard';
import { buildInputs, type ModelInputs, type TsWindow } from './inputs';
import type { Scored } from './parity';
import { ort, sessionFor } from './session';
import { ModelOutputError } from '../platform/errors';

export { buildInputs, inputsFromRows, ModelInputError, type ModelInputs, type TsWindow } from './inputs';
export { checkParity, PARITY_TOLERANCE, type Scored } from './parity';
export { onnxRuntimeVersion, sessionFor } from './session';

export { ModelOutputError };

export interface ScoreRequest {
  /** A local file holding the model bytes (ArtifactStore.getFile verified its sha256). */
  modelPath: string;
  modelSha256: string;
  card: ModelCard;
  featuresPath: string;
  window: TsWindow;
  batchSize?: number;
  /** Called after each batch (activities heartbeat here). */
  onBatch?: (done: number, total: number) => void;
}

export async function scoreModel(req: ScoreRequest): Promise<Scored> {
  return runModel({ ...req, inputs: await buildInputs(req.featuresPath, req.card.input, req.window) });
}

/** Runs the model on a prepared input tensor (buildInputs or inputsFromRows), in batches. */
export async function runModel(req: Omit<ScoreRequest, 'featuresPath' | 'window'> & { inputs: ModelInputs }): Promise<Scored> {
  const { card, inputs } = req;
  const session = await sessionFor(req.modelPath, req.modelSha256);
  if (!session.outputNames.includes('vol')) throw new ModelOutputError(`model ${card.modelId} has no output named vol (has ${session.outputNames.join(', ')})`);
  const wantSigma = session.outputNames.includes('sigma');
  const n = inputs.ts.length;
  const perRow = inputs.dims.slice(1).reduce((a, b) => a * b, 1);
  const batch = req.batchSize ?? 2048;
  const vol = new Array<number>(n);
  const sigma = wantSigma ? new Array<number>(n) : null;
  for (let start = 0; start < n; start += batch) {
    const rows = Math.min(batch, n - start);
    const x = new ort.Tensor('float32', inputs.x.subarray(start * perRow, (start + rows) * perRow), [rows, ...inputs.dims.slice(1)]);
    const out = await session.run({ x }, wantSigma ? ['vol', 'sigma'] : ['vol']);
    const v = out['vol']!.data as Float32Array;
    if (v.length !== rows) throw new ModelOutputError(`model ${card.modelId}: vol has ${v.length} values for ${rows} rows (expected [N, 1])`);
    for (let i = 0; i < rows; i++) vol[start + i] = v[i]!;
    if (sigma) {
      const s = out['sigma']!.data as Float32Array;
      if (s.length !== rows) throw new ModelOutputError(`model ${card.modelId}: sigma has ${s.length} values for ${rows} rows`);
      for (let i = 0; i < rows; i++) sigma[start + i] = s[i]!;
    }
    req.onBatch?.(start + rows, n);
  }
  return { ts: inputs.ts, vol, sigma };
}
