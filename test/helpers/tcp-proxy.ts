// A TCP proxy in front of the test PostgreSQL (or a test server) that can go silent: while
// `silence()` holds, bytes stop flowing both ways and new connections are accepted but never
// answered, as in a network partition (nothing is refused, everything hangs). `restore()` lets the
// held bytes through again. With `cutAfterBytes`, a connection is cut (both sides destroyed) once
// the client has sent that many bytes through it: a connection that drops mid-upload.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  silence(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, opts: { cutAfterBytes?: number } = {}): Promise<TcpProxy> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const links: Array<{ client: net.Socket; upstream: net.Socket }> = [];
  const waiting: Array<() => void> = [];

  const link = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (opts.cutAfterBytes !== undefined) {
      const limit = opts.cutAfterBytes;
      let passed = 0;
      client.on('data', (chunk: Buffer) => {
        if (passed >= limit) return;
        const room = limit - passed;
        passed += Math.min(chunk.length, room);
        upstream.write(chunk.subarray(0, room));
        if (passed >= limit) {
          client.destroy();
          upstream.destroy();
        }
      });
    } else {
      client.pipe(upstream);
    }
    upstream.pipe(client);
    links.push({ client, upstream });
  };

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (silent) {
      client.pause();
      client.on('error', () => undefined);
      waiting.push(() => {
        client.resume();
        link(client);
      });
    } else {
      link(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    silence() {
      silent = true;
      for (const { client, upstream } of links) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    restore() {
      silent = false;
      for (const { client, upstream } of links) {
        if (client.destroyed || upstream.destroyed) continue;
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        upstream.resume();
      }
      for (const go of waiting.splice(0)) go();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
