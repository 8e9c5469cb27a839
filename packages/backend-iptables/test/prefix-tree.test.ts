import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FANOUT, PrefixTree, depthBound, type TreeItem, type TreeNode } from '../src/tree/prefix-tree.js';

interface Item extends TreeItem {
  readonly port: number;
}

const item = (key: bigint, port = 80): Item => ({ id: `${key}/${port}`, key, port });

/** Keys as the distributions the tree must handle: uniform, one dense /24, a few tight clusters, powers of two (a trie's worst case). */
const keys32 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }),
  fc.bigInt({ min: 0x0a600000n, max: 0x0a6000ffn }),
  fc.tuple(fc.constantFrom(0x0a600000n, 0x0a6f0000n, 0xc0a80000n), fc.bigInt({ min: 0n, max: 63n })).map(([base, offset]) => base + offset),
  fc.integer({ min: 0, max: 31 }).map((bit) => 1n << BigInt(bit)),
);
const keys128 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 20n - 1n }).map((low) => (0xfd00n << 112n) + low),
  fc.integer({ min: 0, max: 127 }).map((bit) => 1n << BigInt(bit)),
);
/** Items with a few ports per key, so that leaves see keys of several items. */
const items = (keys: fc.Arbitrary<bigint>, max: number) =>
  fc.uniqueArray(fc.tuple(keys, fc.constantFrom(80, 443, 53)).map(([key, port]) => item(key, port)), { selector: (entry) => entry.id, maxLength: max });

function tree(width: number, capacity: number, content: readonly Item[]): PrefixTree<Item> {
  const built = new PrefixTree<Item>({ width, capacity, root: 'KPLANE-IPS' });
  built.build(content);
  return built;
}

/** Checks every invariant the tree promises, for the items it should hold (plain checks, one assertion: 20,000 items stay fast). */
function checkTree(built: PrefixTree<Item>, expected: readonly Item[]): void {
  const problems: string[] = [];
  const holders = new Map<string, string[]>();
  const visit = (node: TreeNode<Item>): number => {
    if (node.items) {
      for (const id of node.items.keys()) holders.set(id, [...(holders.get(id) ?? []), node.chain]);
      if (node.items.size > built.options.capacity && new Set([...node.items.values()].map((entry) => entry.key)).size > 1) problems.push(`${node.chain} overfull`);
      if (node.weight !== node.items.size) problems.push(`${node.chain} weight`);
      return node.weight;
    }
    const weight = node.children!.reduce((sum, child) => sum + visit(child), 0);
    if (node.weight !== weight) problems.push(`${node.chain} weight`);
    if (2 * node.weight <= built.options.capacity) problems.push(`${node.chain} sparse`);
    if (node.children!.length < 2) problems.push(`${node.chain} has one child`);
    for (const child of node.children!) if (child.children && FANOUT * child.weight > 2 * node.weight) problems.push(`${child.chain} unbalanced`);
    return weight;
  };
  visit(built.root);
  if (built.size !== expected.length) problems.push(`size ${built.size}`);
  for (const entry of expected) {
    // Exactly one leaf holds the item, and the first-match walk of a packet to its key ends there.
    const leaves = holders.get(entry.id) ?? [];
    if (leaves.length !== 1 || built.path(entry.key).at(-1)!.chain !== leaves[0]) problems.push(`${entry.id} in ${leaves.join(', ')}`);
  }
  if (holders.size !== expected.length) problems.push(`${holders.size} items held`);
  if (built.depth() > depthBound(built.size, built.options.capacity)) problems.push(`depth ${built.depth()}`);
  expect(problems).toEqual([]);
}

describe('PrefixTree', () => {
  it('builds a tree in which every item has exactly one path, within the depth bound (IPv4)', () => {
    fc.assert(fc.property(items(keys32, 600), fc.integer({ min: 4, max: 64 }), (content, capacity) => {
      checkTree(tree(32, capacity, content), content);
    }), { numRuns: 200 });
  });

  it('builds a tree in which every item has exactly one path, within the depth bound (IPv6)', () => {
    fc.assert(fc.property(items(keys128, 600), fc.integer({ min: 4, max: 64 }), (content, capacity) => {
      checkTree(tree(128, capacity, content), content);
    }), { numRuns: 200 });
  });

  it('keeps the invariants through any sequence of inserts and removes; a change without restructuring marks one path', () => {
    const operations = fc.array(fc.tuple(fc.boolean(), keys32, fc.constantFrom(80, 443), fc.nat()), { maxLength: 300 });
    fc.assert(fc.property(items(keys32, 200), operations, fc.integer({ min: 4, max: 32 }), (initial, steps, capacity) => {
      const built = tree(32, capacity, initial);
      built.takeChanges();
      const present = new Map(initial.map((entry) => [entry.id, entry]));
      for (const [add, key, port, pick] of steps) {
        const existing = [...present.values()];
        const target = add || existing.length === 0 ? item(key, port) : existing[pick % existing.length]!;
        if (add && present.has(target.id)) continue;
        const restructures = built.restructures;
        const before = built.path(target.key).map((node) => node.chain);
        if (add || existing.length === 0) {
          built.insert(target);
          present.set(target.id, target);
        } else {
          built.remove(target);
          present.delete(target.id);
        }
        const changes = built.takeChanges();
        if (built.restructures === restructures) {
          const onPath = new Set([...before, ...built.path(target.key).map((node) => node.chain)]);
          expect(changes.removed).toEqual([]);
          for (const node of changes.written) expect(onPath.has(node.chain)).toBe(true);
        }
        checkTree(built, [...present.values()]);
      }
    }), { numRuns: 150 });
  });

  it('grows logarithmically: the depth of 20,000 addresses stays within the bound for every distribution', () => {
    const sequential = Array.from({ length: 20_000 }, (_, index) => item(0x0a600000n + BigInt(index)));
    const spread = Array.from({ length: 20_000 }, (_, index) => item(0x0a600000n + BigInt((index * 2_654_435_761) % 2 ** 20)));
    const powers = Array.from({ length: 20_000 }, (_, index) => item((1n << BigInt(8 + (index % 120))) + BigInt(Math.floor(index / 120))));
    for (const content of [sequential, spread, powers]) {
      const built = tree(128, 32, content);
      checkTree(built, content);
      expect(built.depth()).toBeLessThanOrEqual(depthBound(20_000, 32));
    }
    expect(depthBound(20_000, 32)).toBe(7);
  }, 30_000);

  it('keeps a single key with more items than a leaf holds in one leaf', () => {
    const ports = Array.from({ length: 40 }, (_, index) => item(0x0a600001n, 1000 + index));
    const built = tree(32, 8, [...ports, item(0x0a600002n), item(0x0a600003n)]);
    checkTree(built, [...ports, item(0x0a600002n), item(0x0a600003n)]);
    expect(built.path(0x0a600001n).at(-1)!.items!.size).toBe(40);
  });
});
