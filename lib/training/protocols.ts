/**
 * Evaluation protocols from config, resolved into the plain object a train workflow receives
 * (workflow code cannot read config): targets, history span, walk-forward spec, model specs, seed.
 */
import type { VolcastConfig } from '../platform/config';
import type { ModelSpec, ResolvedProtocol } from '../../contracts/types';
export type { ModelSpec, ResolvedProtocol };

export function resolveProtocol(cfg: VolcastConfig, name: string, overrides: { models?: string[]; targets?: string[] } = {}): ResolvedProtocol {
  const p = cfg.protocols[name];
  if (!p) throw new Error(`unknown protocol ${JSON.stringify(name)}: configured are ${Object.keys(cfg.protocols).join(', ')}`);
  const names = overrides.models ?? p.models;
  for (const m of names) if (!cfg.models[m]) throw new Error(`unknown model ${JSON.stringify(m)}: configured are ${Object.keys(cfg.models).join(', ')}`);
  return {
    name,
    description: p.description,
    targets: overrides.targets ?? p.targets,
    lookbackBars: p.lookbackBars,
    walkForward: p.walkForward,
    models: names.map((m) => ({ name: m, kind: cfg.models[m]!.kind, params: cfg.models[m]!.params })),
    // An ensemble runs only when all its members do.
    ensembles: p.ensembles.filter((e) => e.members.every((m) => names.includes(m))).map((e) => ({ ...e, members: [...e.members] })),
    seed: p.seed,
  };
}
