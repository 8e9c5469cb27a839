import type { SoakResult } from './soak.js';

/** Whether the soak held: no failed connection to an unchanged service, nothing leaked or missing. */
export function soakHeld(result: SoakResult): boolean {
  return result.failed.length === 0 && result.leaked.length === 0 && result.missing.length === 0;
}

/** The soak's figures as Markdown lines (printed; pasted into bench/RESULTS.md by hand). */
export function soakReport(result: SoakResult): string {
  const { endpoints, add, delete: deleted } = result.changes;
  const rss = result.rssMiB;
  const warm = rss.slice(Math.min(6, Math.floor(rss.length / 3)));
  return [
    `### Soak: ${result.backend}, ${result.services.toLocaleString('en-US')} services, ${(result.seconds / 60).toFixed(1)} min`,
    '',
    `- changes: ${endpoints + add + deleted} (${endpoints} endpoint edits, ${add} Service adds, ${deleted} deletes)`,
    `- connections to unchanged services: ${result.connections}, failed: ${result.failed.length}${result.failed.length > 0 ? ` (${result.failed.slice(0, 5).join('; ')})` : ''}`,
    `- kernel listing vs a clean run of the final manifest: ${result.leaked.length} leaked lines, ${result.missing.length} missing${result.leaked.length + result.missing.length > 0 ? ` (e.g. ${[...result.leaked, ...result.missing].slice(0, 3).join(' | ')})` : ''}`,
    `- RSS every 10 s (MiB): ${rss.join(' ')}`,
    `- RSS after warm-up (from sample ${rss.length - warm.length + 1}): min ${Math.min(...warm)}, max ${Math.max(...warm)} MiB`,
    `- ${soakHeld(result) ? 'held' : 'FAILED'}`,
    '',
  ].join('\n');
}
