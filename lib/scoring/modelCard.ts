/**
 * The model card (docs/model-contract.md): the parts evaluation and scoring rely on are validated
 * here; every other field a trainer writes is kept as is (loose objects), so rewriting a card with
 * its parity result never drops what the trainer recorded.
 */
import { z } from 'zod';
import { CardValidationError } from '../platform/errors';

export const cardInputSchema = z.object({
  kind: z.enum(['tabular', 'sequence']),
  columns: z.array(z.string().min(1)).min(1),
  window: z.number().int().min(1),
  dtype: z.literal('float32'),
});
export type CardInput = z.infer<typeof cardInputSchema>;

export const parityResultSchema = z.object({
  passed: z.boolean(),
  /** max |onnxruntime-node − trainer| / max(|trainer|, 1e-12) over the compared rows. */
  maxRelError: z.number().nullable(),
  tolerance: z.number(),
  compared: z.number().int(),
  /** Test rows only one side predicted (the scorable-row rule disagrees): any of them fails parity. */
  onlyOnnx: z.number().int(),
  onlyTrainer: z.number().int(),
  runtime: z.string(),
  /** sha256 of the card as the trainer wrote it, so a re-run can recognise its own rewrite. */
  sourceCardSha256: z.string(),
  reason: z.string().nullable(),
});
export type ParityResult = z.infer<typeof parityResultSchema>;

export const modelCardSchema = z.looseObject({
  modelId: z.string().min(1),
  name: z.string().min(1),
  kind: z.string().min(1),
  target: z.string().min(1),
  featureSetId: z.string(),
  input: cardInputSchema,
  output: z.looseObject({ name: z.literal('vol'), sigma: z.boolean().optional() }),
  trainerPredictions: z.looseObject({
    ts: z.array(z.number()),
    vol: z.array(z.number()),
    sigma: z.array(z.number()).optional(),
  }),
  parity: parityResultSchema.nullable().optional(),
});
export type ModelCard = z.infer<typeof modelCardSchema>;

export { CardValidationError };

export function parseCard(value: unknown, where: string): ModelCard {
  const r = modelCardSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new CardValidationError(`invalid model card ${where}: ${issues}`);
  }
  if (r.data.input.kind === 'tabular' && r.data.input.window !== 1) {
    throw new CardValidationError(`invalid model card ${where}: a tabular input has window 1, got ${r.data.input.window}`);
  }
  if (r.data.trainerPredictions.ts.length !== r.data.trainerPredictions.vol.length) {
    throw new CardValidationError(`invalid model card ${where}: trainerPredictions.ts and .vol differ in length`);
  }
  return r.data;
}
