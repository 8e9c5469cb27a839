import { describe, expect, it } from 'vitest';
import { HealthCheckPorts } from '../src/engine/health-check-ports.js';
import type { Endpoint, ServicePortState } from '../src/model/service-port.js';

const endpoint = (ip: string, nodeName: string, ready = true): Endpoint =>
  ({ ip, family: 4, port: 8080, ready, serving: true, terminating: false, nodeName, zone: null, hintZones: null, hintNodes: null });

/** The fields HealthCheckPorts reads of a port's state. */
function state(service: string, healthCheckNodePort: number | null, endpoints: Endpoint[]): ServicePortState {
  return { servicePort: { service, healthCheckNodePort }, externalEndpoints: endpoints } as unknown as ServicePortState;
}

describe('HealthCheckPorts', () => {
  it('serves a Service on its health port with the ready endpoints on this node', () => {
    const ports = new HealthCheckPorts({ nodeName: 'node-a' });
    ports.update('shop/lb:http/TCP', state('shop/lb', 32000, [endpoint('10.0.0.1', 'node-a'), endpoint('10.0.0.2', 'node-a', false), endpoint('10.0.0.3', 'node-b')]));
    expect([...ports.byPort]).toEqual([[32000, { service: 'shop/lb', localEndpoints: 1 }]]);
  });

  it('keeps the port while another port of the Service carries it, and drops it with the last', () => {
    const ports = new HealthCheckPorts({ nodeName: 'node-a' });
    ports.update('shop/lb:http/TCP', state('shop/lb', 32000, []));
    ports.update('shop/lb:https/TCP', state('shop/lb', 32000, []));
    ports.update('shop/lb:http/TCP', undefined);
    expect([...ports.byPort.keys()]).toEqual([32000]);
    ports.update('shop/lb:https/TCP', undefined);
    expect(ports.byPort.size).toBe(0);
  });

  it('moves to a new health port, and goes when the Service stops asking for one', () => {
    const ports = new HealthCheckPorts({ nodeName: 'node-a' });
    ports.update('shop/lb:http/TCP', state('shop/lb', 32000, []));
    ports.update('shop/lb:http/TCP', state('shop/lb', 32001, []));
    expect([...ports.byPort.keys()]).toEqual([32001]);
    ports.update('shop/lb:http/TCP', state('shop/lb', null, []));
    expect(ports.byPort.size).toBe(0);
  });
});
