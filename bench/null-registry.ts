// The floor under skopeo's push and pull: a registry in the bench process that does the least a
// registry can do. Uploads are read off the socket and dropped (no hash, no file, no fsync); a pull
// serves the manifest and blobs of the image's dir: folder from the page cache through two reused
// buffers. Whatever a real registry does, skopeo cannot push into it or pull from it faster than
// here: the rest of the time is skopeo's own (its reads, sha256 and writes) and the kernel's.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const CHUNK = 1024 * 1024;

/** Drains a request body; resolves with its length. */
function drain(req: http.IncomingMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.once('end', () => resolve(bytes));
    req.once('error', reject);
  });
}

function write(res: http.ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
}

/** Sends a file: one buffer read while the other is on its way (as Berth's blob GET does). */
async function sendFile(res: http.ServerResponse, file: string, size: number): Promise<void> {
  const handle = await fs.open(file, 'r');
  const buffers = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const writes: Array<Promise<void> | undefined> = [undefined, undefined];
  try {
    for (let i = 0, position = 0; position < size; i ^= 1) {
      await writes[i];
      const { bytesRead } = await handle.read(buffers[i]!, 0, Math.min(CHUNK, size - position), position);
      if (bytesRead === 0) throw new Error(`${file} is shorter than ${size}`);
      position += bytesRead;
      writes[i] = write(res, buffers[i]!.subarray(0, bytesRead));
    }
    await Promise.all(writes);
    await new Promise<void>((resolve) => res.end(resolve));
  } finally {
    await handle.close();
  }
}

export class NullRegistry {
  private readonly manifests = new Map<string, { type: string; body: Buffer }>();

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  /** Serves pulls of any name from `imageDir` (a skopeo dir: folder); pushes of anything are dropped. */
  static async start(imageDir: string): Promise<NullRegistry> {
    let registry: NullRegistry | undefined;
    const server = http.createServer((req, res) => {
      registry!.handle(imageDir, req, res).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = new NullRegistry(server, (server.address() as AddressInfo).port);
    return registry;
  }

  private async handle(imageDir: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://registry');
    const p = url.pathname;
    const answer = (status: number, headers: Record<string, string> = {}, body?: Buffer) => {
      res.writeHead(status, { ...headers, 'Content-Length': String(body?.length ?? 0) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(p);
    if (p === '/v2/' || p === '/v2') return answer(200, { 'Content-Type': 'application/json' }, Buffer.from('{}'));
    if (req.method === 'POST' && /\/blobs\/uploads\/?$/.test(p)) {
      await drain(req);
      return answer(202, { Location: `${p.replace(/\/?$/, '/')}${randomUUID()}`, Range: '0-0' });
    }
    if (req.method === 'PATCH' && p.includes('/blobs/uploads/')) {
      const bytes = await drain(req);
      return answer(202, { Location: p, Range: `0-${Math.max(0, bytes - 1)}` });
    }
    if (req.method === 'PUT' && p.includes('/blobs/uploads/')) {
      await drain(req);
      const digest = url.searchParams.get('digest') ?? '';
      return answer(201, { Location: p.replace(/uploads\/[^/]+$/, digest), 'Docker-Content-Digest': digest });
    }
    if (req.method === 'PUT' && manifest) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      this.manifests.set(`${manifest[1]}:${manifest[2]}`, { type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      return answer(201, { Location: p });
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && manifest) {
      const stored = this.manifests.get(`${manifest[1]}:${manifest[2]}`);
      const body = stored?.body ?? (await fs.readFile(path.join(imageDir, 'manifest.json')));
      const type = stored?.type || (JSON.parse(body.toString('utf8')) as { mediaType: string }).mediaType;
      return answer(200, { 'Content-Type': type }, body);
    }
    if (blob && req.method === 'HEAD') return answer(404);
    if (blob && req.method === 'GET') {
      const file = path.join(imageDir, blob[2]!.slice('sha256:'.length));
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat) return answer(404);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(stat.size), 'Docker-Content-Digest': blob[2]! });
      return sendFile(res, file, stat.size);
    }
    await drain(req);
    return answer(404);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
