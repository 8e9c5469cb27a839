/** Splits one line of iptables-save / iptables-restore text into words; double quotes group words, as iptables does. */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
  return words;
}

/** The chain or target a rule jumps to (`-j X` / `-g X`), or null. */
export function ruleTarget(words: readonly string[]): string | null {
  const index = words.findIndex((word) => word === '-j' || word === '--jump' || word === '-g' || word === '--goto');
  return index >= 0 ? words[index + 1] ?? null : null;
}
