import type { IPFamily } from '@kplane/core';

/**
 * The typed batches of the ipvs backend's tools: the planner adds operations, `toString()` is
 * exactly the text sent on stdin (and what the fake client parses). iptables-restore input is
 * core's `IptablesTransaction`.
 */

/** A batch of one command a line, in the order they were added. */
abstract class LineBatch {
  private readonly lines: string[] = [];

  get empty(): boolean {
    return this.lines.length === 0;
  }

  toString(): string {
    return this.lines.map((line) => `${line}\n`).join('');
  }

  protected push(line: string): this {
    this.lines.push(line);
    return this;
  }
}

/** An IPVS virtual service as `ipvsadm -A/-E` writes it. */
export interface ServiceHeader {
  /** `-t 10.96.0.10:80`: protocol flag and address, in ipvsadm's own syntax. */
  readonly key: string;
  readonly scheduler: string;
  /** Persistence timeout in seconds, or null. */
  readonly persistence: number | null;
}

/** `ipvsadm -R` input. Real servers are always in NAT (masquerading) mode. */
export class IpvsadmTransaction extends LineBatch {
  addService(service: ServiceHeader): this {
    return this.push(`-A ${header(service)}`);
  }

  editService(service: ServiceHeader): this {
    return this.push(`-E ${header(service)}`);
  }

  deleteService(key: string): this {
    return this.push(`-D ${key}`);
  }

  addReal(key: string, real: string, weight: number): this {
    return this.push(`-a ${key} -r ${real} -m -w ${weight}`);
  }

  editReal(key: string, real: string, weight: number): this {
    return this.push(`-e ${key} -r ${real} -m -w ${weight}`);
  }

  deleteReal(key: string, real: string): this {
    return this.push(`-d ${key} -r ${real}`);
  }
}

function header({ key, scheduler, persistence }: ServiceHeader): string {
  return `${key} -s ${scheduler}${persistence === null ? '' : ` -p ${persistence}`}`;
}

/** `ipset restore` input; `exist` (`-exist`) makes creating an existing set and adding a present entry no-ops. */
export class IpsetTransaction extends LineBatch {
  constructor(readonly exist: boolean) {
    super();
  }

  /** `type` is `hash:ip,port`..., `options` the creation options after the family (`hashsize 1024 ...`). */
  create(name: string, type: string, family: IPFamily, options: string): this {
    return this.push(`create ${name} ${type} family ${family === 4 ? 'inet' : 'inet6'} ${options}`);
  }

  flush(name: string): this {
    return this.push(`flush ${name}`);
  }

  add(name: string, entry: string): this {
    return this.push(`add ${name} ${entry}`);
  }

  del(name: string, entry: string): this {
    return this.push(`del ${name} ${entry}`);
  }

  /** Exchanges the contents of two sets of the same type. */
  swap(from: string, to: string): this {
    return this.push(`swap ${from} ${to}`);
  }

  destroy(name: string): this {
    return this.push(`destroy ${name}`);
  }
}

/** `ip -batch -` input: the dummy interface and its addresses. */
export class IpTransaction extends LineBatch {
  addDummy(device: string): this {
    return this.push(`link add ${device} type dummy`);
  }

  setUp(device: string): this {
    return this.push(`link set ${device} up`);
  }

  deleteLink(device: string): this {
    return this.push(`link del ${device}`);
  }

  /** `cidr` is a host prefix (`/32`, `/128`); IPv6 ones skip duplicate address detection (`nodad`), so they work at once. */
  addAddress(cidr: string, device: string): this {
    return this.push(`address add ${cidr} dev ${device}${cidr.includes(':') ? ' nodad' : ''}`);
  }

  deleteAddress(cidr: string, device: string): this {
    return this.push(`address del ${cidr} dev ${device}`);
  }
}
