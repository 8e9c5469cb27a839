#!/usr/bin/env node
// Runs inside one network namespace of a sandbox: a pod's servers, or a client's probes.
// Protocol: one JSON request per line on stdin, one JSON response per line on stdout, matched by `seq`.
// Plain JavaScript with no dependencies, so `ip netns exec NS node netns-agent.mjs` starts it as is.
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

const kept = new Map();
let name = 'unnamed';

/** A pod answers every line (TCP) or datagram (UDP) with who it is, which port it was reached on, and who asked. */
function answer(localPort, remoteAddress) {
  return JSON.stringify({ pod: name, port: localPort, from: remoteAddress.replace(/^::ffff:/, '') });
}

function serve({ pod, tcp = [], udp = [] }) {
  name = pod;
  const listening = [];
  for (const port of tcp) {
    const server = createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('data', () => socket.write(`${answer(port, socket.remoteAddress ?? '')}\n`));
      socket.on('error', () => {});
    });
    listening.push(new Promise((resolve, reject) => server.listen({ port, host: '::', ipv6Only: false }, resolve).once('error', reject)));
  }
  for (const port of udp) {
    const socket = createSocket({ type: 'udp6', ipv6Only: false });
    socket.on('message', (_, peer) => socket.send(answer(port, peer.address), peer.port, peer.address));
    listening.push(new Promise((resolve, reject) => socket.bind(port, '::', resolve).once('error', reject)));
  }
  return Promise.all(listening).then(() => ({}));
}

/**
 * Connects, sends one line, waits for the answer line; optionally keeps the connection for later
 * `send`, or closes it with a reset (no TIME_WAIT left behind) instead of a FIN.
 */
function tcp({ host, port, timeoutMs = 2000, keep, reset }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host, port });
    let connectedAt = 0;
    let buffer = '';
    const done = (result) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (keep && result.ok) kept.set(keep, socket);
      else if (reset && result.ok) socket.resetAndDestroy();
      else socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'TIMEOUT' }), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connectedAt = performance.now();
      socket.write('hello\n');
    });
    socket.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) done({ ok: true, answer: JSON.parse(buffer.split('\n')[0]), connectMs: connectedAt - started });
    });
    socket.on('error', (error) => done({ ok: false, error: error.code ?? error.message }));
  });
}

/** Sends one more line on a kept connection and waits for its answer. */
function send({ keep, timeoutMs = 2000 }) {
  const socket = kept.get(keep);
  if (!socket || socket.destroyed) return Promise.resolve({ ok: false, error: 'NOT_CONNECTED' });
  return new Promise((resolve) => {
    let buffer = '';
    const finish = (result) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      resolve(result);
    };
    const onData = (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) finish({ ok: true, answer: JSON.parse(buffer.split('\n')[0]) });
    };
    const onError = (error) => finish({ ok: false, error: error.code ?? error.message });
    const onClose = () => finish({ ok: false, error: 'CLOSED' });
    const timer = setTimeout(() => finish({ ok: false, error: 'TIMEOUT' }), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write('again\n');
  });
}

function close({ keep }) {
  kept.get(keep)?.destroy();
  kept.delete(keep);
  return Promise.resolve({});
}

/** Sends one datagram and waits for the answer. `sourcePort` pins the client port (conntrack entries are per 5-tuple). */
function udp({ host, port, timeoutMs = 2000, sourcePort }) {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const done = (result) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'TIMEOUT' }), timeoutMs);
    socket.on('message', (message) => done({ ok: true, answer: JSON.parse(message.toString()) }));
    socket.on('error', (error) => done({ ok: false, error: error.code ?? error.message }));
    socket.bind(sourcePort ?? 0, () => socket.send('hello', port, host));
  });
}

/** An HTTP GET (health check ports, metrics). */
async function http({ url, timeoutMs = 2000 }) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { ok: true, status: response.status, body: await response.text() };
  } catch (error) {
    return { ok: false, error: error.cause?.code ?? error.name };
  }
}

const operations = { serve, tcp, send, close, udp, http };

createInterface({ input: process.stdin }).on('line', async (line) => {
  const request = JSON.parse(line);
  let response;
  try {
    response = await operations[request.op](request);
  } catch (error) {
    response = { ok: false, error: String(error) };
  }
  process.stdout.write(`${JSON.stringify({ seq: request.seq, ...response })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ seq: 0, ready: true })}\n`);
