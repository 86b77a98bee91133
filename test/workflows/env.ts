/**
 * The workflow-logic tier: the real workflow code on a real (ephemeral) Temporal dev server from
 * @temporalio/testing, started from the CLI that infra/setup.sh builds, with stubbed activities on
 * each task queue. Tests here check what the workflows decide and pass on, not what activities do.
 */
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ACTIVITY_NAMES, catalog, type Activities } from '../../contracts/activities';
import { toolsBin } from '../../lib/platform/paths';
import { searchAttributes } from '../../lib/api/visibility';
import { taskQueues } from '../../temporal.config';

export type Stubs = Partial<{ [K in keyof Activities]: (input: Parameters<Activities[K]>[0]) => Promise<unknown> }>;

export interface StubStack {
  env: TestWorkflowEnvironment;
  /** The stubs the workers call now (swap per test); calls of an activity without a stub fail. */
  stubs: Stubs;
  /** Every activity call, in order: name and input. */
  calls: { name: string; input: unknown }[];
  close(): Promise<void>;
}

export async function startStubStack(): Promise<StubStack> {
  // The stubs fail on purpose: keep the worker's warnings about it out of the test output.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: join(toolsBin, 'temporal') }, searchAttributes: Object.values(searchAttributes) },
  });
  const stack: StubStack = { env, stubs: {}, calls: [], close: async () => {} };
  const route = (name: string) => async (input: unknown) => {
    stack.calls.push({ name, input });
    const impl = (stack.stubs as Record<string, (i: unknown) => Promise<unknown>>)[name];
    if (!impl) throw new Error(`no stub for activity ${name}`);
    return impl(input);
  };
  const workers = await Promise.all(
    Object.values(taskQueues).map((taskQueue) =>
      Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        activities: Object.fromEntries(ACTIVITY_NAMES.filter((n) => taskQueues[catalog[n].queue] === taskQueue).map((n) => [n, route(n)])),
        ...(taskQueue === taskQueues.cpu ? { workflowsPath: require.resolve('../../workflows') } : {}),
      }),
    ),
  );
  const runs = workers.map((w) => w.run());
  stack.close = async () => {
    for (const w of workers) w.shutdown();
    await Promise.all(runs);
    await env.teardown();
  };
  return stack;
}

export interface StubSuite {
  /** The suite's stack (set once its `before` hook has run). */
  stack: StubStack;
  /** The inputs of every call of one activity so far in this test, in order. */
  called(name: string): unknown[];
  /** Runs a workflow on the cpu queue under a fresh id and waits for its result. */
  execute<A, R>(workflow: (input: A) => Promise<R>, input: A, idPrefix: string): Promise<R>;
}

/** For a describe block: one stub stack started before its tests and closed after them, its calls cleared before each test. */
export function useStubStack(): StubSuite {
  const suite: StubSuite = {
    stack: undefined as unknown as StubStack,
    called: (name) => suite.stack.calls.filter((c) => c.name === name).map((c) => c.input),
    execute: (workflow, input, idPrefix) =>
      suite.stack.env.client.workflow.execute(workflow as never, { taskQueue: taskQueues.cpu, workflowId: `${idPrefix}-${Date.now()}-${Math.random()}`, args: [input] } as never) as never,
  };
  before(async () => {
    suite.stack = await startStubStack();
  });
  after(async () => suite.stack?.close());
  beforeEach(() => {
    if (suite.stack) suite.stack.calls.length = 0;
  });
  return suite;
}
