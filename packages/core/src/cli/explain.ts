import type { EndpointView, ServiceExplanation } from '../debug/debug-views.js';
import { parseBindAddress } from '../health/http-server.js';
import type { ServiceName } from '../model/service-port.js';

/** How long `kplane explain` waits for a running agent's answer. */
const AGENT_TIMEOUT_MS = 5_000;

/** `svc/NAMESPACE/NAME` (or `service/…`) → `NAMESPACE/NAME`. */
export function explainTarget(text: string): ServiceName {
  const match = /^(?:svc|service|services)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!match) throw new Error(`explain ${text}: expected svc/NAMESPACE/NAME`);
  return `${match[1]}/${match[3]}`;
}

/** A running agent's explanation, from its debug endpoint on the metrics listener (`--metrics-bind-address`). */
export async function explainFromAgent(metricsBindAddress: string, name: ServiceName): Promise<ServiceExplanation> {
  if (!metricsBindAddress) throw new Error('explain: --metrics-bind-address is "", so no agent to ask; use --source file:PATH to explain offline');
  const { host, port } = parseBindAddress(metricsBindAddress);
  // An agent listening on every address answers on loopback too.
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${target}:${port}/debug/services/${name}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(AGENT_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`explain: no agent answered at ${url} (${(error as Error).message}); use --source file:PATH to explain offline`);
  }
  if (response.status === 404) throw new Error(`explain: the agent knows no Service ${name}`);
  if (!response.ok) throw new Error(`explain: ${url} answered ${response.status}`);
  return (await response.json()) as ServiceExplanation;
}

/** The explanation as text for a terminal. */
export function renderExplanation(explained: ServiceExplanation): string {
  const lines = [`Service ${explained.service}: ${explained.accepted ? 'accepted' : `refused: ${explained.refused} (its last valid version stays programmed)`}`];
  for (const part of explained.leftOut) lines.push(`  left out: ${part}`);
  if (explained.ports.length === 0) lines.push('  no port programmed');
  for (const port of explained.ports) {
    lines.push(`  port ${port.key}${port.lastChanged ? ` (last changed ${port.lastChanged})` : ''}`);
    lines.push(`    frontends: ${port.frontends.join(', ') || 'none'}`);
    lines.push(`    cluster traffic: ${port.selection.internal}`, `    external traffic: ${port.selection.external}`);
    lines.push(...(port.endpoints.length === 0 ? ['    no endpoints'] : port.endpoints.map((endpoint) => `    ${endpointLine(endpoint)}`)));
  }
  const check = explained.healthCheckNodePort;
  if (check) lines.push(`  healthCheckNodePort ${check.port}: ${check.status} ${JSON.stringify(check.body)}`);
  lines.push(`  last sync: ${explained.lastSync ?? 'none yet'}${explained.lastSyncOk === false ? ' (the latest sync failed: the kernel may hold an older version)' : ''}`);
  return `${lines.join('\n')}\n`;
}

function endpointLine(endpoint: EndpointView): string {
  const conditions = (['ready', 'serving', 'terminating'] as const).filter((condition) => endpoint[condition]).join(',') || 'not serving';
  const where = [endpoint.node && `node ${endpoint.node}`, endpoint.zone && `zone ${endpoint.zone}`].filter(Boolean).join(' ');
  const hints = [endpoint.hints.zones && `zones ${endpoint.hints.zones.join(',')}`, endpoint.hints.nodes && `nodes ${endpoint.hints.nodes.join(',')}`].filter(Boolean).join(' ');
  const takes = endpoint.draining ? 'draining (established connections only)'
    : [endpoint.internal && 'cluster', endpoint.external && 'external'].filter(Boolean).join('+') || 'no new connections';
  return `${endpoint.address.padEnd(22)} ${conditions.padEnd(20)} ${where}${hints ? ` hints: ${hints}` : ''} → ${takes}`;
}
