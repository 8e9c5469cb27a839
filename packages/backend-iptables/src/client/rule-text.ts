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

/** REJECT's default, which iptables prints though restore was not given it. */
const DEFAULT_REJECT = /^icmp6?-port-unreachable$/;

/**
 * A rule in a form that compares equal however iptables prints it: `-S` and iptables-save spell
 * some of what restore read differently (MARK `--or-mark 0x4000` as `--set-xmark 0x4000/0x4000`,
 * `--xor-mark` as `--set-xmark …/0x0`, the probability as the kernel keeps it, with more digits), add the defaults of
 * `recent` (`--mask`, `--rsource`) and REJECT (`--reject-with icmp-port-unreachable`), and
 * reorder a match's options; so the words are compared as a sorted list.
 */
export function canonicalRule(rule: string): string {
  const words = tokenize(rule);
  const canonical: string[] = [];
  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    const value = words[index + 1] ?? '';
    switch (word) {
      case '--or-mark':
        canonical.push('--set-xmark', `${value}/${value}`);
        index++;
        break;
      case '--xor-mark':
        canonical.push('--set-xmark', `${value}/0x0`);
        index++;
        break;
      case '--probability':
        // xt_statistic keeps it in 31 bits: 0.3333333333 is printed back as 0.33333333349.
        canonical.push(word, String(Math.round(Number(value) * 2 ** 31)));
        index++;
        break;
      case '--mask':
        index++;
        break;
      case '--rsource':
        break;
      case '--reject-with':
        if (DEFAULT_REJECT.test(value)) index++;
        else canonical.push(word);
        break;
      default:
        canonical.push(word);
    }
  }
  return canonical.sort().join(' ');
}
