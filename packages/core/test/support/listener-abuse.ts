import { connect, type Socket } from 'node:net';

/** A connected TCP socket to a local listener. */
export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Writes `text` raw and returns what the server sent back before it closed the socket (or after `waitMs`). */
export async function exchange(port: number, text: string | Buffer, waitMs = 3_000): Promise<string> {
  const socket = await openSocket(port);
  socket.on('error', () => {});
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.write(text);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    setTimeout(resolve, waitMs);
  });
  socket.destroy();
  return answer;
}

/** Bytes that are no HTTP request, and requests that break the grammar. */
export const GARBAGE: readonly (string | Buffer)[] = [
  Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
  'HELLO\r\n\r\n',
  'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /debug/sync HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
  'GET /debug/services/%zz/%00 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /\u0000 HTTP/1.1\r\n\r\n',
];

/** A request whose headers are far larger than Node's 16 KiB limit. */
export function hugeHeaders(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 200 }, (_, i) => `X-Junk-${i}: ${'a'.repeat(1000)}\r\n`).join('')}\r\n`;
}

/** Opens `count` connections at once; a socket the server closes or refuses is counted, not thrown. */
export async function openMany(port: number, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(Array.from({ length: count }, () => openSocket(port).catch(() => null)));
  return sockets.filter((socket): socket is Socket => socket !== null).map((socket) => socket.on('error', () => {}));
}

/** Sends the start of a request, then one header byte at a time; true once the server cut the connection (within `withinMs`). */
export async function slowloris(port: number, path: string, withinMs: number): Promise<boolean> {
  const socket = await openSocket(port);
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n`);
  socket.resume();
  const drip = setInterval(() => socket.writable && socket.write('X'), 200);
  const cut = await new Promise<boolean>((resolve) => {
    socket.on('close', () => resolve(true));
    setTimeout(() => resolve(false), withinMs);
  });
  clearInterval(drip);
  socket.destroy();
  return cut;
}

/** The number of sockets a server holds now. */
export function heldConnections(server: { getConnections(callback: (error: Error | null, count: number) => void): void }): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}
