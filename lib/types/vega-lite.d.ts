/**
 * vega-lite ships its types under "exports" only, which this project's moduleResolution ("node")
 * does not read. The one function used (lib/evaluation/plots.ts) is declared here.
 */
declare module 'vega-lite' {
  export function compile(spec: unknown): { spec: import('vega').Spec };
}
