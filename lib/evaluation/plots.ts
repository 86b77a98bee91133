/**
 * Headless SVG plots: Vega-Lite specs compiled and rendered by Vega in Node (renderer 'none', no
 * canvas, no browser). vega 6 is ESM-only with top-level await, so it is loaded with import().
 */
type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');

let loaded: Promise<[VegaModule, VegaLiteModule]> | null = null;
function load(): Promise<[VegaModule, VegaLiteModule]> {
  loaded ??= Promise.all([import('vega'), import('vega-lite')]);
  return loaded;
}

export type Spec = Record<string, unknown>;

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'top' },
  title: { fontSize: 14, anchor: 'start' },
};

export async function renderSvg(spec: Spec): Promise<string> {
  const [vega, vl] = await load();
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const utcTime = (title: string) => ({ field: 'ts', type: 'temporal', title, scale: { type: 'utc' }, axis: { format: '%b %d %H:%M', labelAngle: 0 } });

export interface SeriesPoint {
  ts: number;
  series: string;
  value: number;
}

export function linesSpec(title: string, points: SeriesPoint[], yTitle: string, width = 980): Spec {
  return {
    title,
    width,
    height: 260,
    data: { values: points },
    mark: { type: 'line', strokeWidth: 1.4, interpolate: 'linear' },
    encoding: {
      x: utcTime('time (UTC)'),
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: null },
      strokeDash: { condition: { test: "datum.series === 'actual'", value: [1, 0] }, value: [5, 2] },
    },
  };
}

export function scatterSpec(title: string, points: { actual: number; forecast: number }[], lo: number, hi: number): Spec {
  const axis = (field: string, t: string) => ({
    field,
    type: 'quantitative',
    title: t,
    scale: { type: 'log', domain: [lo, hi] },
    // Log axes label every minor tick by default: thin them out.
    axis: { labelOverlap: 'greedy', tickCount: 5, format: '.3~f' },
  });
  return {
    title,
    width: 460,
    height: 400,
    layer: [
      { data: { values: points }, mark: { type: 'circle', size: 10, opacity: 0.35 }, encoding: { x: axis('forecast', 'forecast volatility'), y: axis('actual', 'realized volatility') } },
      {
        data: { values: [{ forecast: lo, actual: lo }, { forecast: hi, actual: hi }] },
        mark: { type: 'line', color: '#d62728', strokeDash: [4, 3] },
        encoding: { x: axis('forecast', 'forecast volatility'), y: axis('actual', 'realized volatility') },
      },
    ],
  };
}

export function histogramSpec(title: string, points: { series: string; value: number }[]): Spec {
  return {
    title,
    width: 420,
    height: 400,
    data: { values: points },
    mark: { type: 'bar', opacity: 0.55, binSpacing: 0 },
    encoding: {
      x: { field: 'value', type: 'quantitative', bin: { maxbins: 60 }, title: 'ln(forecast / actual)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'rows', stack: null },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

export interface BandPoint {
  ts: number;
  actual: number;
  forecast: number;
  lo80: number;
  hi80: number;
  lo95: number;
  hi95: number;
}

export function intervalSpec(title: string, points: BandPoint[], width = 980): Spec {
  const x = utcTime('time (UTC)');
  const y = (field: string) => ({ field, type: 'quantitative', title: 'volatility', scale: { zero: false } });
  return {
    title,
    width,
    height: 260,
    data: { values: points },
    layer: [
      { mark: { type: 'area', color: '#9ecae1', opacity: 0.45 }, encoding: { x, y: y('lo95'), y2: { field: 'hi95' } } },
      { mark: { type: 'area', color: '#4292c6', opacity: 0.45 }, encoding: { x, y: y('lo80'), y2: { field: 'hi80' } } },
      { mark: { type: 'line', color: '#08306b', strokeWidth: 1.4 }, encoding: { x, y: y('forecast') } },
      { mark: { type: 'circle', color: '#d62728', size: 12 }, encoding: { x, y: y('actual') } },
    ],
  };
}
