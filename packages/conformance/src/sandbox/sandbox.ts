import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { NamespaceAgent } from './agent.js';
import { NetnsExecutor } from './netns-executor.js';

/** What a sandbox pod is: its addresses (inside 10.244.0.0/16 and fd00:10:244::/48) and the ports it serves. */
export interface PodSpec {
  readonly name: string;
  readonly ipv4: string;
  readonly ipv6: string;
  /** The node the EndpointSlices say it runs on (all pods share one kernel; only Local policies care). */
  readonly nodeName: string;
  readonly tcp: readonly number[];
  readonly udp: readonly number[];
}

/** A pod of the sandbox: a namespace on the node's pod bridge, answering on its ports. */
export interface SandboxPod extends PodSpec {
  readonly agent: NamespaceAgent;
}

/**
 * The fixed addressing of every sandbox. Only namespace names are unique per sandbox, so sandboxes
 * of different test files (or engineers) never meet.
 */
export const SANDBOX_NETWORK = {
  nodeName: 'kplane-node',
  otherNodeName: 'other-node',
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  /** The node's address on the external network: NodePorts answer here. */
  nodeIPs: ['192.168.50.1', 'fd00:50::1'],
  bridge: { ipv4: '10.244.0.1', ipv6: 'fd00:10:244::1' },
  client: { ipv4: '10.244.9.2', ipv6: 'fd00:10:244:9::2' },
  /** An outside client on 192.168.50.0/24, and another on 192.168.51.0/24 (for source ranges). */
  external: { ipv4: '192.168.50.2', ipv6: 'fd00:50::2' },
  outsider: { ipv4: '192.168.51.2', ipv6: 'fd00:51::2' },
} as const;

/** The conformance kit's pods: a-d on this node, r on another; each serves TCP 8080 and 9090 and UDP 5353. */
export const KIT_PODS: readonly PodSpec[] = [
  ...['a', 'b', 'c', 'd'].map((name, index) => kitPod(name, 1, 11 + index, SANDBOX_NETWORK.nodeName)),
  kitPod('r', 2, 21, SANDBOX_NETWORK.otherNodeName),
];

function kitPod(name: string, subnet: number, host: number, nodeName: string): PodSpec {
  return { name, ipv4: `10.244.${subnet}.${host}`, ipv6: `fd00:10:244:${subnet}::${host}`, nodeName, tcp: [8080, 9090], udp: [5353] };
}

/**
 * A sandbox of network namespaces: a node (where the backend programs its rules; it routes between
 * everything), pods behind the node's pod bridge (the kit's a-d and r by default), a client pod,
 * and two outside clients behind the node's external interfaces. Nothing outside these namespaces
 * is touched.
 */
export class Sandbox {
  readonly executor: NetnsExecutor;
  readonly pods = new Map<string, SandboxPod>();
  client!: NamespaceAgent;
  external!: NamespaceAgent;
  outsider!: NamespaceAgent;
  /** Probes from the node itself (locally originated traffic). */
  node!: NamespaceAgent;
  private readonly namespaces: string[] = [];
  private readonly agents: NamespaceAgent[] = [];

  private constructor(readonly prefix: string) {
    this.executor = new NetnsExecutor(this.nodeNamespace);
  }

  get nodeNamespace(): string {
    return `${this.prefix}-node`;
  }

  static async create(pods: readonly PodSpec[] = KIT_PODS, prefix = `kpc${randomBytes(3).toString('hex')}`): Promise<Sandbox> {
    const sandbox = new Sandbox(prefix);
    try {
      await sandbox.build(pods);
    } catch (error) {
      await sandbox.destroy();
      throw error;
    }
    return sandbox;
  }

  pod(name: string): SandboxPod {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name} in the sandbox (pods: ${[...this.pods.keys()].join(', ')})`);
    return pod;
  }

  /** Runs a command in the node namespace (for scenarios that set up foreign rules or read state). */
  async inNode(tool: string, args: readonly string[], input = ''): Promise<string> {
    return (await execa('ip', ['netns', 'exec', this.nodeNamespace, tool, ...args], { input })).stdout;
  }

  async destroy(): Promise<void> {
    for (const agent of this.agents) agent.stop();
    for (const namespace of this.namespaces.reverse()) await execa('ip', ['netns', 'delete', namespace], { reject: false });
  }

  private async build(pods: readonly PodSpec[]): Promise<void> {
    const net = SANDBOX_NETWORK;
    const node = await this.namespace('node');
    await execa('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    const nodeBatch = [
      'link set lo up',
      'link add kpbr0 type bridge',
      'link set kpbr0 up',
      `addr add ${net.bridge.ipv4}/16 dev kpbr0`,
      `addr add ${net.bridge.ipv6}/48 dev kpbr0 nodad`,
    ];
    const bridged: { namespace: string; ipv4: string; ipv6: string }[] = [];
    for (const pod of pods) bridged.push({ namespace: await this.namespace(`pod-${pod.name}`), ipv4: pod.ipv4, ipv6: pod.ipv6 });
    bridged.push({ namespace: await this.namespace('client'), ...net.client });
    // Hairpin mode lets the bridge send a frame back out of the port it came in on: a pod reaching
    // itself through its service (CNI bridge plugins set it for the same reason).
    bridged.forEach((member, index) => nodeBatch.push(
      `link add br-${index} type veth peer name eth0 netns ${member.namespace}`,
      `link set br-${index} master kpbr0`,
      `link set br-${index} type bridge_slave hairpin on`,
      `link set br-${index} up`,
    ));
    const outside = [
      { namespace: await this.namespace('ext'), device: 'ext0', gateway: { ipv4: '192.168.50.1', ipv6: 'fd00:50::1' }, address: net.external },
      { namespace: await this.namespace('out'), device: 'ext1', gateway: { ipv4: '192.168.51.1', ipv6: 'fd00:51::1' }, address: net.outsider },
    ];
    for (const link of outside) nodeBatch.push(
      `link add ${link.device} type veth peer name eth0 netns ${link.namespace}`,
      `addr add ${link.gateway.ipv4}/24 dev ${link.device}`,
      `addr add ${link.gateway.ipv6}/64 dev ${link.device} nodad`,
      `link set ${link.device} up`,
    );
    // Like a real node, the node has a default route (to a gateway nobody answers for): traffic to a
    // service IP that no rule rewrites is forwarded, where a backend's reject rules can refuse it.
    nodeBatch.push('route add default via 192.168.50.254', 'route add ::/0 via fd00:50::254');
    await ipBatch(node, nodeBatch);
    for (const member of bridged) await configureEndHost(member.namespace, member, { prefix4: 16, prefix6: 48 }, net.bridge);
    for (const link of outside) await configureEndHost(link.namespace, link.address, { prefix4: 24, prefix6: 64 }, link.gateway);

    for (const [index, pod] of pods.entries()) {
      const agent = await this.agent(bridged[index]!.namespace);
      await agent.serve(pod.name, { tcp: pod.tcp, udp: pod.udp });
      this.pods.set(pod.name, { ...pod, agent });
    }
    this.client = await this.agent(bridged.at(-1)!.namespace);
    this.external = await this.agent(outside[0]!.namespace);
    this.outsider = await this.agent(outside[1]!.namespace);
    this.node = await this.agent(node);
  }

  private async namespace(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await execa('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    // No duplicate address detection: IPv6 addresses (link-local ones too) are usable at once.
    await execa('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    return name;
  }

  private async agent(namespace: string): Promise<NamespaceAgent> {
    const agent = await NamespaceAgent.start(namespace);
    this.agents.push(agent);
    return agent;
  }
}

async function ipBatch(namespace: string, commands: readonly string[]): Promise<void> {
  await execa('ip', ['-n', namespace, '-batch', '-'], { input: `${commands.join('\n')}\n` });
}

async function configureEndHost(
  namespace: string,
  address: { ipv4: string; ipv6: string },
  prefixes: { prefix4: number; prefix6: number },
  gateway: { ipv4: string; ipv6: string },
): Promise<void> {
  await ipBatch(namespace, [
    'link set lo up',
    `addr add ${address.ipv4}/${prefixes.prefix4} dev eth0`,
    `addr add ${address.ipv6}/${prefixes.prefix6} dev eth0 nodad`,
    'link set eth0 up',
    `route add default via ${gateway.ipv4}`,
    `route add default via ${gateway.ipv6}`,
  ]);
}
