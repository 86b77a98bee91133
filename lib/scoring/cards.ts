/**
 * Reading a model card by reference, and writing its parity result back into card.json.
 *
 * Evaluation rewrites card.json in place (same key, parity filled), so the bytes under the key stop
 * matching the sha256 the fit returned. A re-run (retry, or another run reusing the model) still
 * accepts the card when the stored one carries parity.sourceCardSha256 equal to the reference's
 * sha256: it is the trainer's card plus our parity, nothing else. Anything else is corruption.
 */
import type { IntervalCalibration } from '../../contracts/types';
import { parseCard, type ModelCard, type ParityResult } from './modelCard';
import { IntegrityError, sha256Of, type ArtifactStore, type ObjectRef } from '../platform/store';

export interface LoadedCard {
  card: ModelCard;
  /** The sha256 of the card as the trainer wrote it. */
  sourceSha256: string;
}

export async function readCard(store: ArtifactStore, ref: ObjectRef): Promise<LoadedCard> {
  const latest = await store.readLatest(ref.key);
  if (latest && latest.ref.sha256 === ref.sha256) {
    const parsed = JSON.parse(latest.data.toString('utf8')) as { parity?: { sourceCardSha256?: unknown } | null };
    // A reference to a card that already carries parity (a reused fit returns the current bytes):
    // its source is the trainer's original, so a re-evaluation writes byte-identical parity.
    const source = typeof parsed.parity?.sourceCardSha256 === 'string' ? parsed.parity.sourceCardSha256 : ref.sha256;
    return { card: parseCard(parsed, `s3://${ref.bucket}/${ref.key}`), sourceSha256: source };
  }
  if (latest) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(latest.data.toString('utf8'));
    } catch {
      throw new IntegrityError(ref, latest.ref.sha256);
    }
    const parity = (parsed as { parity?: { sourceCardSha256?: unknown } | null }).parity;
    if (parity && parity.sourceCardSha256 === ref.sha256) {
      return { card: parseCard(parsed, `s3://${ref.bucket}/${ref.key}`), sourceSha256: ref.sha256 };
    }
    throw new IntegrityError(ref, latest.ref.sha256);
  }
  // Absent: getFile raises MissingObjectError (or serves a verified cached copy).
  const card = parseCard(await store.getJson(ref), `s3://${ref.bucket}/${ref.key}`);
  return { card, sourceSha256: ref.sha256 };
}

/**
 * card.json with `parity` filled (and, for a serving fit, the interval it serves with) and every
 * other field kept; deterministic bytes for a given input.
 */
export async function writeParity(store: ArtifactStore, ref: ObjectRef, card: ModelCard, parity: ParityResult, serving?: { intervals: IntervalCalibration | null }): Promise<ObjectRef> {
  const body = `${JSON.stringify({ ...card, ...(serving ?? {}), parity }, null, 2)}\n`;
  const current = await store.head(ref.key);
  if (current && current.sha256 === sha256Of(body)) return current;
  return store.putBuffer(ref.key, body, 'application/json');
}
