import { readFile } from 'node:fs/promises';
import type { Executor } from './executor.js';
import { ToolError } from './executor.js';

/**
 * Service traffic is forwarded (client → node → pod), so a host firewall whose iptables FORWARD
 * policy is DROP would eat it, whatever our own tables accept: in netfilter every base chain on a
 * hook must accept. Like kube-proxy's KUBE-FORWARD, kplane inserts one accept rule for DNATed
 * traffic into FORWARD of each iptables variant whose filter table exists (it never creates one),
 * marked by its comment so that cleanup removes exactly that rule.
 */
const COMMENT = 'kplane: accept forwarded service traffic';
const RULE = ['FORWARD', '-m', 'conntrack', '--ctstate', 'DNAT', '-m', 'comment', '--comment', COMMENT, '-j', 'ACCEPT'];

interface Variant {
  readonly tool: string;
  /** Whether this variant's filter table exists (checking must not create it). */
  readonly present: (executor: Executor) => Promise<boolean>;
}

const VARIANTS: readonly Variant[] = [
  { tool: 'iptables-nft', present: (executor) => nftTableExists(executor, 'ip') },
  { tool: 'ip6tables-nft', present: (executor) => nftTableExists(executor, 'ip6') },
  { tool: 'iptables-legacy', present: () => legacyTableExists('/proc/net/ip_tables_names') },
  { tool: 'ip6tables-legacy', present: () => legacyTableExists('/proc/net/ip6_tables_names') },
];

export async function ensureForwardAccept(executor: Executor): Promise<void> {
  for (const variant of VARIANTS) {
    if (!executor.live || !(await variant.present(executor))) continue;
    if (!(await ruleExists(executor, variant.tool))) await executor.apply({ tool: variant.tool, args: ['-w', '5', '-I', ...RULE.slice(0, 1), '1', ...RULE.slice(1)], input: '' });
  }
}

/** Deletes every copy of the rule, counted from one listing (a loop until none is left never ends on a dry run, where deletes change nothing). */
export async function removeForwardAccept(executor: Executor): Promise<void> {
  for (const variant of VARIANTS) {
    if (!(await variant.present(executor))) continue;
    const copies = await countCopies(executor, variant.tool);
    for (let i = 0; i < copies; i++) await executor.apply({ tool: variant.tool, args: ['-w', '5', '-D', ...RULE], input: '' });
  }
}

async function countCopies(executor: Executor, tool: string): Promise<number> {
  const listing = await executor.read({ tool, args: ['-w', '5', '-S', 'FORWARD'] }).catch((error: unknown) => {
    if (error instanceof ToolError) return '';
    throw error;
  });
  return listing.split('\n').filter((line) => line.startsWith('-A FORWARD ') && line.includes(`--comment "${COMMENT}"`)).length;
}

async function ruleExists(executor: Executor, tool: string): Promise<boolean> {
  try {
    await executor.read({ tool, args: ['-w', '5', '-C', ...RULE] });
    return true;
  } catch (error) {
    if (error instanceof ToolError) return false;
    throw error;
  }
}

/** Lists that one table: `nft list tables` loads every table's rules first (10 s beside 60,000 iptables-nft chains). */
async function nftTableExists(executor: Executor, family: 'ip' | 'ip6'): Promise<boolean> {
  try {
    await executor.read({ tool: 'nft', args: ['list', 'table', family, 'filter'] });
    return true;
  } catch {
    return false;
  }
}

async function legacyTableExists(path: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).split('\n').includes('filter');
  } catch {
    return false;
  }
}
