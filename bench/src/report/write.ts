import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '../process/paths.js';
import { renderCharts } from './charts.js';
import { renderMarkdown } from './markdown.js';
import type { BenchResults } from './results.js';

export interface Written {
  readonly json: string;
  readonly markdown: string;
  readonly charts: readonly string[];
}

/**
 * Writes `<timestamp>.json` (everything measured), `<timestamp>-<chart>.svg` and RESULTS.md: into
 * bench/results and bench/RESULTS.md by default, or all into `outDir` (the smoke test's temporary folder).
 */
export async function writeReport(results: BenchResults, outDir: string | null): Promise<Written> {
  const resultsDir = outDir ?? join(REPO_ROOT, 'bench/results');
  const markdownPath = outDir ? join(outDir, 'RESULTS.md') : join(REPO_ROOT, 'bench/RESULTS.md');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = results.startedAt.replace(/:/g, '-');
  const json = join(resultsDir, `${stamp}.json`);
  writeFileSync(json, `${JSON.stringify(results, null, 1)}\n`);
  const charts = await renderCharts(results.runs, 'native');
  const links = charts.map((chart) => {
    const path = join(resultsDir, `${stamp}-${chart.name}.svg`);
    writeFileSync(path, chart.svg);
    return { title: chart.title, path: relative(dirname(markdownPath), path) };
  });
  writeFileSync(markdownPath, renderMarkdown(results, links));
  return { json, markdown: markdownPath, charts: links.map((link) => join(dirname(markdownPath), link.path)) };
}
