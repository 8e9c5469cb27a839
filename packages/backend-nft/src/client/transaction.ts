/**
 * A knftables-style transaction: typed operations that render to exactly the `nft -f` text sent.
 * The kernel applies one transaction atomically; the Fake applies the same operations to a model.
 */

export type NftFamily = 'ip' | 'ip6';

export interface BaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** nft priority text, e.g. `dstnat`, `dstnat - 10`, `-110`. */
  readonly priority: string;
}

export type NftObject =
  | { readonly kind: 'table'; readonly comment?: string }
  | { readonly kind: 'chain'; readonly name: string; readonly base?: BaseChainSpec }
  | { readonly kind: 'rule'; readonly chain: string; readonly rule: string }
  | { readonly kind: 'set' | 'map'; readonly name: string; readonly spec: string }
  /** Elements of one set or map, written as one command (values are ignored when deleting). */
  | { readonly kind: 'elements'; readonly set: string; readonly elements: readonly NftElement[] };

export interface NftElement {
  readonly key: string;
  readonly value?: string;
}

export type NftVerb = 'add' | 'delete' | 'flush';

export interface NftOperation {
  readonly verb: NftVerb;
  readonly family: NftFamily;
  /** Always kplane's own table: a transaction never names another. */
  readonly table: string;
  readonly object: NftObject;
}

export class NftTransaction {
  readonly operations: NftOperation[] = [];

  constructor(readonly table: string) {}

  add(family: NftFamily, object: NftObject): this {
    return this.push('add', family, object);
  }

  delete(family: NftFamily, object: NftObject): this {
    return this.push('delete', family, object);
  }

  flush(family: NftFamily, object: NftObject): this {
    return this.push('flush', family, object);
  }

  get size(): number {
    return this.operations.length;
  }

  /** The `nft -f` text. */
  render(): string {
    return this.operations.map(({ verb, family, table, object }) => `${renderOperation(verb, family, table, object)}\n`).join('');
  }

  private push(verb: NftVerb, family: NftFamily, object: NftObject): this {
    this.operations.push({ verb, family, table: this.table, object });
    return this;
  }
}

function renderOperation(verb: NftVerb, family: NftFamily, table: string, object: NftObject): string {
  switch (object.kind) {
    case 'table':
      return verb === 'add' && object.comment ? `add table ${family} ${table} { comment ${JSON.stringify(object.comment)}; }` : `${verb} table ${family} ${table}`;
    case 'chain':
      return verb === 'add' && object.base
        ? `add chain ${family} ${table} ${object.name} { type ${object.base.type} hook ${object.base.hook} priority ${object.base.priority}; policy accept; }`
        : `${verb} chain ${family} ${table} ${object.name}`;
    case 'rule':
      return `add rule ${family} ${table} ${object.chain} ${object.rule}`;
    case 'set':
    case 'map':
      return verb === 'add' ? `add ${object.kind} ${family} ${table} ${object.name} { ${object.spec} }` : `${verb} ${object.kind} ${family} ${table} ${object.name}`;
    case 'elements': {
      const items = object.elements.map(({ key, value }) => (value === undefined || verb === 'delete' ? key : `${key} : ${value}`));
      return `${verb} element ${family} ${table} ${object.set} { ${items.join(', ')} }`;
    }
  }
}
