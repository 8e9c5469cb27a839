/**
 * A knftables-style transaction: typed operations whose `toString()` is exactly the `nft -f` text
 * sent. The kernel applies one transaction atomically; the fake client parses the same text.
 */

export type NftFamily = 'ip' | 'ip6';

export interface BaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** nft priority text, e.g. `dstnat`, `dstnat - 10`, `-110`. */
  readonly priority: string;
}

export interface TableObject {
  readonly kind: 'table';
  readonly comment?: string;
}

export interface ChainObject {
  readonly kind: 'chain';
  readonly name: string;
  readonly base?: BaseChainSpec;
}

export interface RuleObject {
  readonly kind: 'rule';
  readonly chain: string;
  readonly rule: string;
}

/** A set or map by name (what delete and flush need). */
export interface SetReference {
  readonly kind: 'set' | 'map';
  readonly name: string;
}

export interface SetObject extends SetReference {
  readonly spec: string;
}

/** Elements of one set or map, written as one command (values are left out when deleting). */
export interface ElementsObject {
  readonly kind: 'elements';
  readonly set: string;
  readonly elements: readonly NftElement[];
}

export interface NftElement {
  readonly key: string;
  readonly value?: string;
}

export type NftObject = TableObject | ChainObject | RuleObject | SetObject | ElementsObject;

/**
 * What `delete` takes. Not a rule: nft deletes a rule only by its handle, which kplane never reads
 * back; a chain whose rules change is flushed and written again instead.
 */
export type DeletableObject = TableObject | ChainObject | SetReference | ElementsObject;

/** What `flush` takes: a chain's rules, a set's or map's elements. */
export type FlushableObject = ChainObject | SetReference;

interface Target {
  readonly family: NftFamily;
  /** Always kplane's own table: a transaction never names another. */
  readonly table: string;
}

export type NftOperation =
  | (Target & { readonly verb: 'add'; readonly object: NftObject })
  | (Target & { readonly verb: 'delete'; readonly object: DeletableObject })
  | (Target & { readonly verb: 'flush'; readonly object: FlushableObject });

export class NftTransaction {
  readonly operations: NftOperation[] = [];

  constructor(readonly table: string) {}

  add(family: NftFamily, object: NftObject): this {
    this.operations.push({ verb: 'add', family, table: this.table, object });
    return this;
  }

  delete(family: NftFamily, object: DeletableObject): this {
    this.operations.push({ verb: 'delete', family, table: this.table, object });
    return this;
  }

  flush(family: NftFamily, object: FlushableObject): this {
    this.operations.push({ verb: 'flush', family, table: this.table, object });
    return this;
  }

  get size(): number {
    return this.operations.length;
  }

  /** The `nft -f` text: one command a line. */
  toString(): string {
    return this.operations.map((operation) => `${renderOperation(operation)}\n`).join('');
  }
}

function renderOperation({ verb, family, table, object }: NftOperation): string {
  const target = `${family} ${table}`;
  switch (object.kind) {
    case 'table':
      return verb === 'add' && object.comment ? `add table ${target} { comment ${JSON.stringify(object.comment)}; }` : `${verb} table ${target}`;
    case 'chain':
      return verb === 'add' && object.base
        ? `add chain ${target} ${object.name} { type ${object.base.type} hook ${object.base.hook} priority ${object.base.priority}; policy accept; }`
        : `${verb} chain ${target} ${object.name}`;
    case 'rule':
      return `${verb} rule ${target} ${object.chain} ${object.rule}`;
    case 'set':
    case 'map':
      return verb === 'add' && 'spec' in object ? `add ${object.kind} ${target} ${object.name} { ${object.spec} }` : `${verb} ${object.kind} ${target} ${object.name}`;
    case 'elements': {
      const items = object.elements.map(({ key, value }) => (value === undefined || verb === 'delete' ? key : `${key} : ${value}`));
      return `${verb} element ${target} ${object.set} { ${items.join(', ')} }`;
    }
  }
}
