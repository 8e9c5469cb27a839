import fc from 'fast-check';

/**
 * Every hostile string carries this marker. Underscores are outside every name rule kplane
 * accepts (DNS labels, port names, IANA service names) and outside the alphabets of hashed names
 * (hex, base32), so the marker can reach rule text only by copying object text into it.
 */
export const MARKER = '_EVIL_';

/** Text that would mean something to nft, iptables-restore, ipset, ipvsadm, ip or a shell. */
const PAYLOADS = [
  '"; drop', '} ; flush ruleset', '\nadd rule ip filter input drop', ' -j ACCEPT', ' --comment "x"', '\n*filter\n-A INPUT -j DROP\nCOMMIT\n',
  "'", '"', '\\', '#', '$(reboot)', '`id`', ';', '{', '}', '\n', '\r\n', '\t', '\u0000', ' ', '-D -t 10.96.0.1:80', 'flush',
  'ünïçødé', '\u202egnp.exe', '😀', '\uFEFF', '\u2028', 'Ⅻ', 'ﬁ', 'İ', '%s%n', '../../etc/passwd', 'a'.repeat(300),
];

/** A string that must never reach rule text: the marker among rule syntax, quotes, newlines and unicode. */
export const hostileString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('', 'a', 'web', '10.96.0.1', 'http'), fc.constantFrom(...PAYLOADS), fc.constantFrom(...PAYLOADS), fc.boolean())
  .map(([head, first, second, markerFirst]) => (markerFirst ? `${head}${MARKER}${first}${second}` : `${head}${first}${MARKER}${second}`));

/** Addresses a proxy must refuse or handle with care: malformed, special, mapped, zoned, of the other family. */
export const strangeIP = fc.constantFrom(
  '10.96.0.256', '1.2.3', '10.96.0.1.5', '::ffff:10.96.0.1', '010.096.000.001', '0x0a.0.0.1', '0.0.0.0', '127.0.0.1', '169.254.169.254',
  '224.0.0.1', '255.255.255.255', 'fe80::1', '::1', '::', 'fe80::1%eth0', '10.0.0.0/8', ' 10.96.0.1', '10.96.0.1\n', 'fd00:96::1',
  'fd00:10:244::1', '2001:db8::1', '1.2.3.4', 'FD00:96::0001', '::ffff:a60:1', 'localhost', '',
);

/** Port numbers at and past the edges, and port-like values of the wrong type. */
export const strangePort = fc.constantFrom<unknown>(0, 65536, -1, 65535, 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '80', 'http', '', null);

/** A value of the wrong type (or a right type with a wrong value) for any field. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  strangeIP,
  strangePort,
  fc.constantFrom<unknown>(null, undefined, [], {}, true, false, -0, 1e21, ['a'], [null], { a: 1 }, [[]], 'TCP', 'udp', 'None', 'Local', 'IPv6'),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.integer(),
);
