/**
 * `ipset list -t`: each set's header without its members (`Name: x`, ..., `Number of entries: 12`),
 * so counting every set's members costs one small listing whatever their size. Set name → entries.
 */
export function parseSetHeaders(text: string): Map<string, number> {
  const entries = new Map<string, number>();
  let name: string | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('Name: ')) name = line.slice('Name: '.length).trim();
    else if (name !== null && line.startsWith('Number of entries: ')) entries.set(name, Number(line.slice('Number of entries: '.length)));
  }
  return entries;
}
