import { KeySpace, type Prefix } from './bits.js';

/** Something placed in the tree: a destination whose key is an address (or a port) seen as bits. */
export interface TreeItem {
  /** Unique within the tree. */
  readonly id: string;
  readonly key: bigint;
}

export interface TreeOptions {
  /** Bits of a key: 32 (IPv4), 128 (IPv6), 16 (port). */
  readonly width: number;
  /** Most items a leaf holds; a leaf whose items all share one key may hold more. Infinity: one flat chain. */
  readonly capacity: number;
  /** Chain of the root; every other node is `<root>-<n>`. */
  readonly root: string;
  /** About how many children a node gets when it is built (default FANOUT). */
  readonly fanout?: number;
}

/**
 * Children per inner node at build time. iptables-nft (nf_tables) nests at most 15 user chains
 * below a base chain; KPLANE-SERVICES sits above the tree and a service needs 4 below its leaf
 * (firewall, external, pick, endpoint): the tree gets 10. With 8 children per node, the bound
 * below stays within 10 levels up to 4 million destinations (leaves of 32).
 */
export const FANOUT = 8;

/** One chain of the tree: an inner node (children, tried in order) or a leaf (items). */
export class TreeNode<T extends TreeItem> {
  children: TreeNode<T>[] | null = null;
  items: Map<string, T> | null = null;
  weight = 0;

  constructor(readonly chain: string, public prefix: Prefix) {}
}

/** Chains to write and chains to delete since the last `takeChanges()`. */
export interface TreeChanges<T extends TreeItem> {
  readonly written: readonly TreeNode<T>[];
  readonly removed: readonly string[];
}

/**
 * A weight-balanced prefix tree: the dispatch structure of the iptables backend. Every node is a
 * chain. An inner node has children, each known by a prefix of the key, and a packet takes the
 * first child whose prefix holds its destination (`-d 10.96.16.0/20 -j KPLANE-IPS-7`); a leaf holds
 * at most `capacity` items, one rule each.
 *
 * Why ordered children instead of a plain radix trie: a trie's depth is bounded by the key width,
 * not by log N (addresses 1, 2, 4, 8, ... make a trie of depth N). Here a node of weight w is cut
 * into pieces of at most t = max(w/F, capacity/2): each piece is the trie node where the walk
 * towards the heavier side first weighs at most t (so more than t/2: at most 2F pieces), taken out
 * of the rest in turn; the rest, last, keeps its covering prefix, which may hold earlier pieces'
 * prefixes. First match wins, so each item still has exactly one path.
 *
 * Invariants, which give the depth bound:
 * - an inner child weighs at most 2/F of its parent (checked along the path of every change; a
 *   node that breaks it is rebuilt, as in a scapegoat tree: amortised O(log N) per change);
 * - an inner node weighs more than capacity/2 (else it merges into one leaf); a leaf splits above capacity.
 * So a path holds at most 1 + log_{F/2}(2N/K) inner chains and one leaf (`depthBound`).
 *
 * Insert and remove walk one path and mark only the chains they change; `takeChanges()` hands them
 * to the planner, so a change without a split, merge or rebuild rewrites one path.
 */
export class PrefixTree<T extends TreeItem> {
  readonly root: TreeNode<T>;
  /** Splits, merges and rebuilds so far: tests use it to tell a one-path change from a restructuring one. */
  restructures = 0;
  private readonly keys: KeySpace;
  private readonly fanout: number;
  private readonly byChain = new Map<string, TreeNode<T>>();
  private dirty = new Set<string>();
  private removed = new Set<string>();
  private counter = 0;

  constructor(readonly options: TreeOptions) {
    this.keys = new KeySpace(options.width);
    this.fanout = options.fanout ?? FANOUT;
    this.root = new TreeNode<T>(options.root, { bits: 0n, length: 0 });
    this.root.items = new Map();
    this.byChain.set(this.root.chain, this.root);
  }

  /**
   * Replaces every item with `items`, building a balanced tree whose chains are numbered from
   * `firstNumber` (fresh names, so that a new tree can be written beside an old one); the record of
   * changes starts afresh (everything is to be written).
   */
  build(items: Iterable<T>, firstNumber = 1): void {
    this.dropDescendants(this.root);
    this.counter = firstNumber - 1;
    this.grow(this.root, [...items].sort(compareItems));
    this.dirty = new Set();
    this.removed = new Set();
  }

  /**
   * A copy that changes independently (items are shared, they are immutable): a planner changes
   * the copy, and the backend keeps it only once the kernel took the restore written from it.
   */
  clone(): PrefixTree<T> {
    const copy = new PrefixTree<T>(this.options);
    const fill = (from: TreeNode<T>, to: TreeNode<T>): void => {
      to.prefix = from.prefix;
      to.weight = from.weight;
      to.items = from.items && new Map(from.items);
      to.children = from.children && from.children.map((child) => {
        const node = new TreeNode<T>(child.chain, child.prefix);
        copy.byChain.set(node.chain, node);
        fill(child, node);
        return node;
      });
    };
    fill(this.root, copy.root);
    copy.restructures = this.restructures;
    copy.dirty = new Set(this.dirty);
    copy.removed = new Set(this.removed);
    copy.counter = this.counter;
    return copy;
  }

  insert(item: T): void {
    const path = [this.root];
    let node = this.root;
    while (node.children) {
      node.weight++;
      let child = node.children.find((candidate) => this.keys.contains(candidate.prefix, item.key));
      if (!child) {
        // No child holds the key: the last child may widen, since no later sibling can lose items to it.
        child = node.children[node.children.length - 1]!;
        child.prefix = this.keys.widen(child.prefix, item.key);
        this.dirty.add(node.chain);
      }
      path.push(child);
      node = child;
    }
    if (node.items!.has(item.id)) throw new Error(`tree ${this.options.root}: item ${item.id} is already present`);
    node.weight++;
    node.items!.set(item.id, item);
    this.dirty.add(node.chain);
    if (node.weight > this.options.capacity && !sameKey([...node.items!.values()])) this.regrow(node);
    this.rebalance(path);
  }

  remove(item: T): void {
    const path = this.path(item.key);
    const leaf = path[path.length - 1]!;
    if (!leaf.items?.delete(item.id)) throw new Error(`tree ${this.options.root}: item ${item.id} is not present`);
    for (const node of path) node.weight--;
    this.dirty.add(leaf.chain);
    const parent = path[path.length - 2];
    if (parent && leaf.weight === 0) this.absorb(parent, leaf);
    const sparse = path.find((node) => node.children && 2 * node.weight <= this.options.capacity);
    if (sparse) this.regrow(sparse);
    this.rebalance(path);
  }

  /** The chains a packet to `key` walks through, root first (the last one is the leaf that holds the key, if any). */
  path(key: bigint): TreeNode<T>[] {
    const path = [this.root];
    for (let node = this.root; node.children; ) {
      const child = node.children.find((candidate) => this.keys.contains(candidate.prefix, key));
      if (!child) break;
      path.push(child);
      node = child;
    }
    return path;
  }

  /** Every node, children before their parent (the order in which chains can be created). */
  *postOrder(node: TreeNode<T> = this.root): Generator<TreeNode<T>> {
    for (const child of node.children ?? []) yield* this.postOrder(child);
    yield node;
  }

  node(chain: string): TreeNode<T> | undefined {
    return this.byChain.get(chain);
  }

  get size(): number {
    return this.root.weight;
  }

  /** Chains on the longest path from the root to a leaf. */
  depth(node: TreeNode<T> = this.root): number {
    return node.children ? 1 + Math.max(...node.children.map((child) => this.depth(child))) : 1;
  }

  takeChanges(): TreeChanges<T> {
    const written = [...this.dirty].flatMap((chain) => this.byChain.get(chain) ?? []);
    const removed = [...this.removed].filter((chain) => !this.byChain.has(chain));
    this.dirty = new Set();
    this.removed = new Set();
    return { written, removed };
  }

  /** Rebuilds the highest node on `path` that has an inner child weighing more than 2/F of it. */
  private rebalance(path: readonly TreeNode<T>[]): void {
    for (const node of path) {
      if (!node.children) return;
      if (node.children.some((child) => child.children && this.fanout * child.weight > 2 * node.weight)) {
        this.regrow(node);
        return;
      }
    }
  }

  /** A child that emptied leaves its parent; a parent left with one child takes over its content (and keeps its own, wider prefix). */
  private absorb(parent: TreeNode<T>, empty: TreeNode<T>): void {
    this.forget(empty);
    parent.children = parent.children!.filter((child) => child !== empty);
    if (parent.children.length === 1) {
      const [only] = parent.children as [TreeNode<T>];
      this.drop(only);
      parent.children = only.children;
      parent.items = only.items;
    }
    this.dirty.add(parent.chain);
    this.restructures++;
  }

  /** Rebuilds a subtree from its items (split, merge or rebalance), keeping the node's chain and prefix. */
  private regrow(node: TreeNode<T>): void {
    const items = [...this.items(node)].sort(compareItems);
    this.dropDescendants(node);
    this.grow(node, items);
    this.dirty.add(node.chain);
    this.restructures++;
  }

  private grow(node: TreeNode<T>, sorted: readonly T[]): void {
    node.weight = sorted.length;
    if (sorted.length <= this.options.capacity || sameKey(sorted)) {
      node.items = new Map(sorted.map((item) => [item.id, item]));
      node.children = null;
      return;
    }
    const target = Math.max(Math.ceil(sorted.length / this.fanout), Math.ceil(this.options.capacity / 2));
    const children: TreeNode<T>[] = [];
    let rest = sorted;
    while (rest.length > target && !sameKey(rest)) {
      const [start, end] = this.carve(rest, target);
      children.push(this.child(rest.slice(start, end)));
      rest = [...rest.slice(0, start), ...rest.slice(end)];
    }
    children.push(this.child(rest));
    node.items = null;
    node.children = children;
  }

  private child(sorted: readonly T[]): TreeNode<T> {
    const node = new TreeNode<T>(`${this.options.root}-${++this.counter}`, this.keys.covering(sorted[0]!.key, sorted[sorted.length - 1]!.key));
    this.byChain.set(node.chain, node);
    this.dirty.add(node.chain);
    this.grow(node, sorted);
    return node;
  }

  /**
   * The items (a range [start, end) of `sorted`) of one trie node weighing at most `target` and
   * more than half of it, or a single key: walk down the trie towards the heavier side until it
   * weighs at most `target`. The heavier side holds at least half of its parent, which weighed more.
   */
  private carve(sorted: readonly T[], target: number): [number, number] {
    let start = 0;
    let end = sorted.length;
    for (;;) {
      const length = this.keys.commonLength(sorted[start]!.key, sorted[end - 1]!.key);
      const middle = this.firstWithBit(sorted, start, end, length);
      const [low, high] = middle - start >= end - middle ? [start, middle] : [middle, end];
      if (high - low <= target || sorted[low]!.key === sorted[high - 1]!.key) return [low, high];
      [start, end] = [low, high];
    }
  }

  /** First index in [start, end) whose key has a 1 at bit `index` (the range shares the bits before it, and starts with a 0 there). */
  private firstWithBit(sorted: readonly T[], start: number, end: number, index: number): number {
    let low = start + 1;
    let high = end - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.keys.bit(sorted[middle]!.key, index)) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  private *items(node: TreeNode<T>): Generator<T> {
    if (node.items) yield* node.items.values();
    for (const child of node.children ?? []) yield* this.items(child);
  }

  private dropDescendants(node: TreeNode<T>): void {
    for (const child of node.children ?? []) this.forget(child);
    node.children = null;
    node.items = new Map();
  }

  /** Removes a subtree's chains. */
  private forget(node: TreeNode<T>): void {
    for (const child of node.children ?? []) this.forget(child);
    this.drop(node);
  }

  /** Removes one node's chain (its children, if any, live on elsewhere). */
  private drop(node: TreeNode<T>): void {
    this.byChain.delete(node.chain);
    this.dirty.delete(node.chain);
    this.removed.add(node.chain);
  }
}

/** Most chains on a path of a tree of `size` items with leaf capacity `capacity` (see PrefixTree). */
export function depthBound(size: number, capacity: number, fanout = FANOUT): number {
  return 2 * size <= capacity ? 1 : 2 + Math.floor(Math.log(2 * size / capacity) / Math.log(fanout / 2));
}

function sameKey(items: readonly TreeItem[]): boolean {
  return items.every((item) => item.key === items[0]!.key);
}

function compareItems(a: TreeItem, b: TreeItem): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
