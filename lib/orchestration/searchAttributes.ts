/**
 * Volcast's custom search attributes in the namespace (lib/api/visibility.ts): registered by
 * `volcast dev up` and by the TypeScript worker when it starts, so the workflows, which set them,
 * work on any Temporal server the worker can administer.
 */
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_TYPES } from '../api/visibility';
import type { VolcastConfig } from '../platform/config';
import { connectClient } from '../platform/temporal';

/**
 * Registers volcast's custom search attributes (lib/api/visibility.ts) in the namespace: the
 * workflows set them, and a workflow that sets one the server does not know fails its task. Adds
 * only the missing ones (idempotent); one registered with another type is reported.
 */
export async function registerSearchAttributes(cfg: VolcastConfig): Promise<string[]> {
  const client = await connectClient(cfg);
  try {
    const ops = client.connection.operatorService;
    const have = (await ops.listSearchAttributes({ namespace: cfg.temporal.namespace })).customAttributes ?? {};
    const IVT = proto.api.enums.v1.IndexedValueType;
    const want = Object.fromEntries(
      Object.entries(SEARCH_ATTRIBUTE_TYPES).map(([name, type]) => [name, type === 'Keyword' ? IVT.INDEXED_VALUE_TYPE_KEYWORD : IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST]),
    );
    const wrong = Object.entries(want).filter(([name, type]) => name in have && have[name] !== type);
    if (wrong.length) {
      throw new Error(`search attribute(s) ${wrong.map(([n]) => n).join(', ')} exist in namespace ${cfg.temporal.namespace} with another type; volcast needs ${wrong.map(([n]) => `${n}=${SEARCH_ATTRIBUTE_TYPES[n]}`).join(', ')}`);
    }
    const missing = Object.fromEntries(Object.entries(want).filter(([name]) => !(name in have)));
    if (Object.keys(missing).length) await ops.addSearchAttributes({ namespace: cfg.temporal.namespace, searchAttributes: missing });
    return Object.keys(missing);
  } finally {
    await client.connection.close();
  }
}

