#!/usr/bin/env node
// The bench's client, inside the sandbox's client namespace: it times connections through the node's
// rules. JSON lines on stdin/stdout like the bench's agent; times are CLOCK_MONOTONIC nanoseconds,
// comparable with the agent's. Plain JavaScript, no dependencies: `ip netns exec NS node prober.mjs`.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const now = () => Number(process.hrtime.bigint());

/** One connection that sends a line and reads which pod answered (sandbox pods answer with their name). */
function ask(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let buffer = '';
    const done = (result) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'TIMEOUT' }), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('bench\n'));
    socket.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) done({ ok: true, pod: JSON.parse(buffer.split('\n')[0]).pod });
    });
    socket.on('error', (error) => done({ ok: false, error: error.code ?? error.message }));
  });
}

/**
 * Asks `host:port` again and again until one of `pods` answers. The rule was live at or before the
 * start of that connection (NAT decides on a connection's first packet) and after the start of the
 * one before: `liveNs` and `previousNs` bracket the moment. The pause between probes starts at
 * `intervalMs` and grows to 5% of the time waited so far (at most 20 ms), so a long wait does not
 * take the CPU from the agent it waits for.
 */
async function until({ host, port, pods, timeoutMs, intervalMs, probeTimeoutMs = 1000 }) {
  const begun = now();
  const deadline = begun + timeoutMs * 1e6;
  let previousNs = null;
  let attempts = 0;
  let last = null;
  while (now() < deadline) {
    const startedNs = now();
    last = await ask(host, port, probeTimeoutMs);
    attempts++;
    if (last.ok && pods.includes(last.pod)) return { ok: true, liveNs: startedNs, previousNs, attempts };
    previousNs = startedNs;
    await sleep(Math.max(intervalMs, Math.min(20, (now() - begun) / 1e6 / 20)));
  }
  return { ok: false, attempts, last };
}

/** One TCP handshake, timed from connect() to the connection being established; then closed. */
function handshake(host, port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const started = now();
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.on('connect', () => {
      const elapsed = (now() - started) / 1e6;
      clearTimeout(timer);
      socket.destroy();
      resolve(elapsed);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`connect to ${host}:${port}: ${error.code ?? error.message}`));
    });
  });
}

/** Sequential handshakes alternating between targets (so drift hits all alike), after a warm-up round. */
async function connects({ targets, count, warmup = 20, timeoutMs = 2000 }) {
  const samples = targets.map(() => []);
  for (let round = 0; round < warmup + count; round++) {
    for (const [index, target] of targets.entries()) {
      const ms = await handshake(target.host, target.port, timeoutMs);
      if (round >= warmup) samples[index].push(ms);
    }
  }
  return { samples };
}

const operations = { until, connects };

createInterface({ input: process.stdin }).on('line', async (line) => {
  const { seq, op, ...request } = JSON.parse(line);
  let response;
  try {
    response = await operations[op](request);
  } catch (error) {
    response = { error: error instanceof Error ? error.message : String(error) };
  }
  process.stdout.write(`${JSON.stringify({ seq, ...response })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ seq: 0, ready: true })}\n`);
