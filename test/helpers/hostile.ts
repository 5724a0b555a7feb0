// Hostile tar archives built from well-formed ones by editing their headers, and raw-socket clients
// that send slowly or stop: what an attack run sends, as reusable pieces for the tests and the fuzzer.
import net from 'node:net';

const BLOCK = 512;

/** The offsets of every header in a tar (stops at the end-of-archive blocks or a malformed size). */
export function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length && tar[off] !== 0) {
    out.push(off);
    const field = tar.subarray(off + 124, off + 136).toString('latin1').replace(/\0.*$/s, '').trim();
    const size = /^[0-7]+$/.test(field) ? parseInt(field, 8) : 0;
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

/** Rewrites a header's checksum after an edit, so that the edit passes the checksum test. */
export function fixChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += header[i]!;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** A copy of `tar` whose header at `offset` declares `size` bytes (octal, or base-256 for big sizes). */
export function withDeclaredSize(tar: Buffer, offset: number, size: bigint, base256 = size >= 8n ** 11n): Buffer {
  const out = Buffer.from(tar);
  const header = out.subarray(offset, offset + BLOCK);
  if (base256) {
    header.fill(0, 124, 136);
    let v = size;
    for (let i = 135; i > 124; i--) {
      header[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    header[124] = 0x80;
  } else {
    header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  }
  fixChecksum(header);
  return out;
}

/** A long-name header (PAX `x`, global PAX `g` or GNU `L`) declaring `size` bytes, followed by `body`. */
export function longHeader(type: 'x' | 'g' | 'L', size: number, body: Buffer = Buffer.alloc(4096, 0x41)): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(type === 'L' ? '././@LongLink' : 'PaxHeaders/entry', 0, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write(type, 156, 'latin1');
  header.write('ustar\0', 257, 'latin1');
  header.write('00', 263, 'latin1');
  fixChecksum(header);
  return Buffer.concat([header, body]);
}

/**
 * The broken archives of the attack run, from a well-formed `tar`: cut inside a header, an entry
 * declaring more than the body holds (octal and base-256 2^80), PAX and GNU long names of 256 MiB,
 * alone and after a whole entry.
 */
export function endlessArchives(tar: Buffer): Record<string, Buffer> {
  const offsets = headerOffsets(tar);
  const files = offsets.filter((o) => tar[o + 156] === 0x30 || tar[o + 156] === 0);
  const second = offsets[1] ?? 0;
  const firstEntryEnd = offsets[1] ?? BLOCK;
  return {
    'cut inside the second header': tar.subarray(0, second + 100),
    'cut inside the last header': tar.subarray(0, offsets.at(-1)! + 300),
    'a first entry declaring more bytes than the body holds': withDeclaredSize(tar, files[0]!, 1_000_000n),
    'a later entry declaring more bytes than the body holds': withDeclaredSize(tar, files.at(-1)!, 1_000_000n),
    'an entry declaring 2^80 bytes in base-256': withDeclaredSize(tar, files[1] ?? files[0]!, 2n ** 80n, true),
    'a PAX header declaring 256 MiB': longHeader('x', 256 * 1024 * 1024),
    'a GNU long name declaring 256 MiB': longHeader('L', 256 * 1024 * 1024),
    'a PAX header declaring 256 MiB after a whole entry': Buffer.concat([tar.subarray(0, firstEntryEnd), longHeader('x', 256 * 1024 * 1024)]),
    'a GNU long name declaring 256 MiB after a whole entry': Buffer.concat([tar.subarray(0, firstEntryEnd), longHeader('L', 256 * 1024 * 1024)]),
  };
}

/** A raw HTTP/1.1 connection: write what you like, read the answer (or see it closed). */
export class RawClient {
  readonly socket: net.Socket;
  private received = Buffer.alloc(0);
  readonly closed: Promise<void>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port), hostname);
    this.socket.on('data', (c: Buffer) => {
      this.received = Buffer.concat([this.received, c]);
    });
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** The status line's code and the body of the first answer, once it is whole (or the socket closed). */
  async answer(timeoutMs: number): Promise<{ status: number; headers: string; body: string } | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = text.slice(0, end);
        const length = /content-length:\s*(\d+)/i.exec(head);
        const body = text.slice(end + 4);
        if (!length || body.length >= Number(length[1])) {
          return { status: Number(head.split(' ')[1]), headers: head, body: length ? body.slice(0, Number(length[1])) : body };
        }
      }
      if (this.socket.destroyed || Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The request head of a raw tar upload of `length` bytes into `repo`. */
export function rawImportHead(repo: string, token: string, length: number): string {
  return (
    `POST /api/v1/repositories/${repo}/imports HTTP/1.1\r\nHost: berth\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/x-tar\r\nContent-Length: ${length}\r\n\r\n`
  );
}
