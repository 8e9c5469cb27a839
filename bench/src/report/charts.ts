import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { runFigures } from './figures.js';
import type { BackendRun } from './results.js';

export interface Chart {
  /** File name part: `<timestamp>-<name>.svg`. */
  readonly name: string;
  readonly title: string;
  readonly svg: string;
}

interface Point {
  readonly backend: string;
  readonly services: number;
  readonly series: string;
  readonly value: number;
}

/** One line per backend (colour) and series (dash) against N, rendered to SVG without a browser. */
async function lineChart(title: string, yTitle: string, points: readonly Point[], logY: boolean): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 320,
    background: 'white',
    data: { values: points.filter((point) => Number.isFinite(point.value) && point.value > 0) as unknown as Record<string, unknown>[] },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'services', type: 'quantitative', title: 'services (N)', scale: { type: 'log' }, axis: { format: '~s' } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: logY ? { type: 'log' } : { zero: true } },
      color: { field: 'backend', type: 'nominal', title: 'backend', legend: { orient: 'bottom', columns: 2, labelLimit: 320 } },
      strokeDash: { field: 'series', type: 'nominal', title: null },
      detail: [{ field: 'series' }],
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** The report's charts: latency against N per backend, and the first vs the last service. */
export async function renderCharts(runs: readonly BackendRun[], label: string): Promise<Chart[]> {
  const ok = runs.filter((run) => !run.error);
  const points = (series: Record<string, (run: BackendRun) => number>): Point[] =>
    ok.flatMap((run) => Object.entries(series).map(([name, value]) => ({ backend: run.label, services: run.services, series: name, value: value(run) })));
  return [
    {
      name: 'change-latency',
      title: 'Single endpoint change: entering the engine → live in the kernel',
      svg: await lineChart(`Single change → live (${label})`, 'ms (log)', points({
        p50: (run) => runFigures(run).changeP50Ms,
        p99: (run) => runFigures(run).changeP99Ms,
      }), true),
    },
    {
      name: 'full-sync',
      title: 'Full sync: state received → last service answers',
      svg: await lineChart(`Full sync → live (${label})`, 's (log)', points({ 'full sync': (run) => runFigures(run).fullSyncLiveS }), true),
    },
    {
      name: 'connect-first-last',
      title: 'First-packet TCP connect latency to the first and the last service (median)',
      svg: await lineChart(`Connect latency, first vs last service (${label})`, 'µs (median)', points({
        first: (run) => runFigures(run).connectFirstUs,
        last: (run) => runFigures(run).connectLastUs,
      }), false),
    },
    {
      name: 'bandwidth-first-last',
      title: 'iperf3 bandwidth to the first and the last service',
      svg: await lineChart(`Bandwidth, first vs last service (${label})`, 'Gbit/s', points({
        first: (run) => runFigures(run).bandwidthFirstGbps,
        last: (run) => runFigures(run).bandwidthLastGbps,
      }), false),
    },
  ];
}
