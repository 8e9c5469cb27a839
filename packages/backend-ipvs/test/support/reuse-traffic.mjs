#!/usr/bin/env node
// Traffic the conformance agent does not make, for seed 001's scenarios (run with `ip netns exec NS node ...`):
//   serve PORT NAME: a pod's server that answers one line with its name and closes first, so the IPVS
//                    connection ends in TIME_WAIT while the client's port is free again at once;
//   burst HOST PORT COUNT LOCALPORT...: COUNT connections in turn from the given local ports (each one
//                    reused while IPVS still holds its previous connection); prints a JSON summary.
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const [port, name] = args;
  createServer((socket) => {
    socket.once('data', () => socket.end(`${name}\n`));
    socket.on('error', () => {});
  }).listen(Number(port), '::', () => process.stdout.write('ready\n'));
} else if (mode === 'burst') {
  const [host, port, count, ...localPorts] = args;
  const answers = {};
  const failures = [];
  for (let i = 0; i < Number(count) && failures.length < 5; i++) {
    const localPort = Number(localPorts[i % localPorts.length]);
    const result = await once(host, Number(port), localPort);
    if (result.ok) answers[result.pod] = (answers[result.pod] ?? 0) + 1;
    else failures.push(`${localPort}: ${result.error}`);
  }
  process.stdout.write(`${JSON.stringify({ answers, failures })}\n`);
} else {
  process.stderr.write('usage: reuse-traffic.mjs serve PORT NAME | burst HOST PORT COUNT LOCALPORT...\n');
  process.exit(2);
}

/** One connection from a fixed local port: send a line, read the pod's name until the pod closes. */
function once(host, port, localPort) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localPort });
    let data = '';
    const timer = setTimeout(() => finish({ ok: false, error: 'TIMEOUT' }), 5000);
    function finish(result) {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('hello\n'));
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => finish(data.includes('\n') ? { ok: true, pod: data.trim() } : { ok: false, error: 'EMPTY' }));
    socket.on('error', (error) => finish({ ok: false, error: error.code ?? error.message }));
  });
}
