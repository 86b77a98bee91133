import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { activitiesFor, catalog, checkImplementations } from '../contracts/activities';
import { createActivities } from '../activities';
import type { ArtifactStore } from '../lib/platform/store';
import { repoRoot } from '../lib/platform/paths';
import { taskQueues } from '../temporal.config';

describe('activity catalog', () => {
  it('every activity is on exactly one known queue, in one language', () => {
    for (const [name, entry] of Object.entries(catalog)) {
      assert.ok(entry.queue in taskQueues, `${name}: unknown queue role ${entry.queue}`);
      assert.ok(['typescript', 'python'].includes(entry.language), `${name}: unknown language`);
      // The TypeScript worker serves volcast-cpu only; the trainer serves the other two.
      assert.equal(entry.language === 'typescript', entry.queue === 'cpu', `${name}: language and queue disagree`);
    }
  });

  it('the TypeScript worker implements exactly the catalog', () => {
    const names = Object.keys(createActivities({} as ArtifactStore));
    assert.deepEqual(names.sort(), activitiesFor('typescript'));
    assert.doesNotThrow(() => checkImplementations('typescript', names));
    assert.throws(() => checkImplementations('typescript', [...names, 'rogue']), /rogue/);
  });

  it('the Python activities (models/activities.py, served by workers/trainer.py) carry the catalog names', () => {
    const src = readFileSync(join(repoRoot, 'models', 'activities.py'), 'utf8');
    for (const name of activitiesFor('python')) assert.match(src, new RegExp(`activity\\.defn\\(name="${name}"\\)`));
  });
});
