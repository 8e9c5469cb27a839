/** One address as `ip -o address show` lists it. */
export interface ListedAddress {
  /** The interface (without a veth's `@ifN` peer suffix). */
  readonly device: string;
  readonly address: string;
  /** `global`, `link`, `host`. */
  readonly scope: string;
}

/** `ip -o address show [dev X]`: `5: kplane-ipvs0    inet 10.96.0.10/32 scope global kplane-ipvs0\ ...`, one address a line. */
export function parseAddressListing(text: string): ListedAddress[] {
  const addresses: ListedAddress[] = [];
  for (const line of text.split('\n')) {
    const match = /^\d+:\s+([^\s@]+)\S*\s+inet6? ([0-9a-f.:]+)\/\d+ .*?scope (\w+)/.exec(line);
    if (match) addresses.push({ device: match[1]!, address: match[2]!, scope: match[3]! });
  }
  return addresses;
}
