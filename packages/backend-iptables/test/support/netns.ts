import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { NetnsExecutor } from '@kplane/conformance';

const run = promisify(execFile);

/** Answers every TCP connection on 8080 and 9090 with `<client address> <local port>`, on IPv4 and IPv6. */
const SERVER = `
const net = require('net');
let listening = 0;
for (const port of [8080, 9090]) for (const host of ['0.0.0.0', '::']) {
  net.createServer((socket) => socket.on('error', () => {}).end(socket.remoteAddress + ' ' + socket.localPort + '\\n'))
    .listen({ host, port, ipv6Only: host === '::' }, () => { if (++listening === 4) console.log('ready'); });
}`;

/** Connects once and prints the answer, or the error code. */
const CLIENT = `
const net = require('net');
const [host, port, timeout] = process.argv.slice(1);
const socket = net.connect({ host, port: Number(port), timeout: Number(timeout) });
let answer = '';
socket.on('data', (data) => { answer += data; });
socket.on('end', () => { console.log('answered ' + answer.trim()); });
socket.on('timeout', () => { console.log('timeout'); socket.destroy(); });
socket.on('error', (error) => { console.log(error.code); });`;

/**
 * Three namespaces of a test's own: a client and a server, routed through a node where the backend
 * writes its rules. The server's addresses are the endpoints: 10.250.2.2 and fd00:250:2::2.
 */
export class TestNetwork {
  readonly executor: NetnsExecutor;
  private server: ChildProcess | null = null;

  private constructor(readonly prefix: string) {
    this.executor = new NetnsExecutor(this.node);
  }

  get node(): string {
    return `${this.prefix}-node`;
  }

  get client(): string {
    return `${this.prefix}-cli`;
  }

  get serverNamespace(): string {
    return `${this.prefix}-srv`;
  }

  static async create(): Promise<TestNetwork> {
    const network = new TestNetwork(`kpit-${randomBytes(3).toString('hex')}`);
    try {
      await network.build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  /** Runs a command in the node namespace (to read back rules). */
  async inNode(command: string, ...args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.node, command, ...args], { maxBuffer: 1 << 28 })).stdout;
  }

  /** One TCP connection from the client namespace: `answered <source seen by the server> <port>`, an error code, or `timeout`. */
  async connect(host: string, port: number, timeoutMs = 2000): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.client, process.execPath, '-e', CLIENT, host, String(port), String(timeoutMs)]);
    return stdout.trim();
  }

  async destroy(): Promise<void> {
    if (this.server?.pid) {
      this.server.kill();
      await once(this.server, 'exit').catch(() => undefined);
    }
    for (const namespace of [this.client, this.serverNamespace, this.node]) await run('ip', ['netns', 'del', namespace]).catch(() => undefined);
  }

  private async build(): Promise<void> {
    const ip = (...args: string[]) => run('ip', args);
    const inside = (namespace: string, ...args: string[]) => run('ip', ['netns', 'exec', namespace, ...args]);
    for (const namespace of [this.node, this.client, this.serverNamespace]) {
      await ip('netns', 'add', namespace);
      await inside(namespace, 'ip', 'link', 'set', 'lo', 'up');
      // No duplicate address detection: addresses (link-local ones too) work at once, no first SYN lost.
      await inside(namespace, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
    }
    await inside(this.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    const links = [{ peer: this.client, subnet: 1 }, { peer: this.serverNamespace, subnet: 2 }];
    for (const { peer, subnet } of links) {
      await ip('link', 'add', `n${subnet}`, 'netns', this.node, 'type', 'veth', 'peer', 'eth0', 'netns', peer);
      await inside(this.node, 'ip', 'addr', 'add', `10.250.${subnet}.1/24`, 'dev', `n${subnet}`);
      await inside(this.node, 'ip', 'addr', 'add', `fd00:250:${subnet}::1/64`, 'dev', `n${subnet}`);
      await inside(this.node, 'ip', 'link', 'set', `n${subnet}`, 'up');
      await inside(peer, 'ip', 'addr', 'add', `10.250.${subnet}.2/24`, 'dev', 'eth0');
      await inside(peer, 'ip', 'addr', 'add', `fd00:250:${subnet}::2/64`, 'dev', 'eth0');
      await inside(peer, 'ip', 'link', 'set', 'eth0', 'up');
      await inside(peer, 'ip', 'route', 'add', 'default', 'via', `10.250.${subnet}.1`);
      await inside(peer, 'ip', '-6', 'route', 'add', 'default', 'via', `fd00:250:${subnet}::1`);
    }
    // Like a real node, the node routes everything somewhere (here: towards the server, which drops
    // what is not its own), so a VIP that kplane refuses is refused by its rules, not "unreachable".
    await inside(this.node, 'ip', 'route', 'add', 'default', 'via', '10.250.2.2');
    await inside(this.node, 'ip', '-6', 'route', 'add', 'default', 'via', 'fd00:250:2::2');
    this.server = spawn('ip', ['netns', 'exec', this.serverNamespace, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [ready] = await Promise.race([once(this.server.stdout!, 'data'), once(this.server, 'exit')]);
    if (!String(ready).includes('ready')) throw new Error('the test server did not start');
  }
}
