// archive/tar-header.ts: the header reader walks every real sample, GNU and pax archives made by
// tar(1), exactly as tar-stream (the server's reader) walks them; hostile headers (bad checksums,
// negative or huge sizes, truncation, oversized extensions) and random corruption are ARCHIVE_INVALID,
// never another error; the header writer's output reads back in tar-stream and in tar(1).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import tar from 'tar-stream';
import { BLOCK, decodeHeader, encodeHeader, END_OF_ARCHIVE, type IndexedEntry, indexTar, padding } from '../src/archive/tar-header.js';
import { BerthError } from '../src/errors.js';

const SAMPLES = path.resolve('samples');

async function index(buf: Buffer): Promise<IndexedEntry[]> {
  const out: IndexedEntry[] = [];
  for await (const e of indexTar(async (pos, len) => buf.subarray(pos, pos + len), buf.length)) out.push(e);
  return out;
}

/** What tar-stream makes of an archive: each entry's name, type, link name, size and content. */
async function tarStreamEntries(buf: Buffer): Promise<Array<{ name: string; type: string; linkname: string | null; size: number; data: Buffer }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; type: string; linkname: string | null; size: number; data: Buffer }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      out.push({ name: entry.header.name, type: entry.header.type!, linkname: entry.header.linkname ?? null, size: entry.header.size ?? 0, data: Buffer.concat(chunks) });
    }
  })();
  Readable.from([buf]).pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

async function expectInvalid(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void }, buf: Buffer, why: RegExp): Promise<void> {
  try {
    await index(buf);
    t.true(false, `indexed without error, expected ${why}`);
  } catch (err) {
    t.true(err instanceof BerthError, String(err));
    t.is((err as BerthError).code, 'ARCHIVE_INVALID');
    t.true(why.test((err as Error).message), (err as Error).message);
  }
}

/** A ustar header block with `size` written raw into its size field, and a correct checksum. */
function headerWithSize(name: string, sizeField: Buffer): Buffer {
  const block = encodeHeader({ name, type: 'file', size: 0, mode: 0o644, mtime: 0 });
  sizeField.copy(block, 124);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

for (const file of (await fs.readdir(SAMPLES)).filter((f) => f.endsWith('.tar'))) {
  test(`the sample ${file} is indexed as tar-stream reads it, each entry's content at its offset`, async (t) => {
    const buf = await fs.readFile(path.join(SAMPLES, file));
    const ours = await index(buf);
    const theirs = await tarStreamEntries(buf);
    t.deepEqual(
      ours.map((e) => ({ name: e.name, type: e.type, linkname: e.linkname, size: e.size })),
      theirs.map((e) => ({ name: e.name, type: e.type, linkname: e.linkname, size: e.size })),
    );
    for (const [i, e] of ours.entries()) t.true(buf.subarray(e.offset, e.offset + e.size).equals(theirs[i]!.data), e.name);
  });
}

for (const format of ['gnu', 'pax', 'ustar']) {
  test(`an archive made by tar --format=${format} with names over 100 bytes and a symlink is indexed as tar-stream reads it`, async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-tarhdr-'));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const deep = path.join(dir, 'src', 'a'.repeat(60), 'b'.repeat(60));
    await fs.mkdir(deep, { recursive: true });
    await fs.writeFile(path.join(deep, `${'c'.repeat(format === 'ustar' ? 40 : 120)}.txt`), randomBytes(1500));
    await fs.writeFile(path.join(dir, 'src', 'small'), 'x');
    await fs.symlink(format === 'ustar' ? 'small' : `${'l'.repeat(120)}`, path.join(dir, 'src', 'link'));
    execFileSync('tar', [`--format=${format}`, '-C', path.join(dir, 'src'), '-cf', path.join(dir, 'out.tar'), '.']);
    const buf = await fs.readFile(path.join(dir, 'out.tar'));
    const ours = await index(buf);
    const theirs = await tarStreamEntries(buf);
    t.true(ours.some((e) => e.name.length > 100));
    t.deepEqual(
      ours.map((e) => ({ name: e.name, type: e.type, linkname: e.linkname, size: e.size })),
      theirs.map((e) => ({ name: e.name, type: e.type, linkname: e.linkname, size: e.size })),
    );
    for (const [i, e] of ours.entries()) t.true(buf.subarray(e.offset, e.offset + e.size).equals(theirs[i]!.data), e.name);
    // Entries cover the archive without gaps: each starts where the one before ended.
    for (let i = 1; i < ours.length; i++) t.is(ours[i]!.start, ours[i - 1]!.end);
  });
}

test('hostile headers are ARCHIVE_INVALID: bad checksum, negative, huge and non-octal sizes, truncation, oversized extensions, bad pax size', async (t) => {
  const good = Buffer.concat([encodeHeader({ name: 'a', type: 'file', size: 3, mode: 0o644, mtime: 0 }), Buffer.from('abc'), padding(3), END_OF_ARCHIVE]);
  t.deepEqual((await index(good)).map((e) => [e.name, e.size, e.offset]), [['a', 3, 512]]);

  const badSum = Buffer.from(good);
  badSum[0] = 0x62; // name "b": the checksum no longer matches
  await expectInvalid(t, badSum, /checksum/);

  // base-256 negative (0xff…) and a positive one past the end of the file
  await expectInvalid(t, Buffer.concat([headerWithSize('neg', Buffer.alloc(12, 0xff)), END_OF_ARCHIVE]), /negative/);
  const huge = Buffer.alloc(12);
  huge[0] = 0x80;
  huge.writeUIntBE(2 ** 40, 6, 6);
  await expectInvalid(t, Buffer.concat([headerWithSize('huge', huge), END_OF_ARCHIVE]), /past the end/);
  const beyondSafe = Buffer.alloc(12, 0xee);
  beyondSafe[0] = 0x80;
  await expectInvalid(t, Buffer.concat([headerWithSize('beyond', beyondSafe), END_OF_ARCHIVE]), /too large/);
  await expectInvalid(t, Buffer.concat([headerWithSize('octal', Buffer.from('77777777777\0')), END_OF_ARCHIVE]), /past the end/);
  await expectInvalid(t, Buffer.concat([headerWithSize('junk', Buffer.from('12x4\0\0\0\0\0\0\0\0')), END_OF_ARCHIVE]), /not an octal number/);

  // truncated: inside a header, inside content
  await expectInvalid(t, good.subarray(0, 300), /ends inside a header/);
  await expectInvalid(t, good.subarray(0, 514), /past the end/);

  // a GNU long name larger than tar-stream takes, and one cut short
  const longHeader = (size: number) => {
    const block = headerWithSize('././@LongLink', Buffer.from(`${size.toString(8).padStart(11, '0')}\0`));
    block[156] = 0x4c; // 'L'
    block.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of block) sum += b;
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    return block;
  };
  await expectInvalid(t, Buffer.concat([longHeader(5 * 1024 * 1024), Buffer.alloc(5 * 1024 * 1024)]), /extension header too large/);
  await expectInvalid(t, Buffer.concat([longHeader(2000), Buffer.alloc(600)]), /ends inside an extension header/);
  await expectInvalid(t, Buffer.concat([longHeader(10), Buffer.alloc(512)]), /ends after an extension header/);

  // a pax size that is no number
  const pax = Buffer.from('15 size=-12345\n');
  const paxHeader = headerWithSize('PaxHeader', Buffer.from(`${pax.length.toString(8).padStart(11, '0')}\0`));
  paxHeader[156] = 0x78; // 'x'
  paxHeader.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of paxHeader) sum += b;
  paxHeader.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  await expectInvalid(t, Buffer.concat([paxHeader, pax, padding(pax.length), good]), /pax size/);

  // neither ustar nor GNU (a v7 header): tar-stream refuses it too
  const v7 = Buffer.from(good);
  v7.fill(0, 257, 265);
  v7.fill(0x20, 148, 156);
  let v7sum = 0;
  for (const b of v7.subarray(0, BLOCK)) v7sum += b;
  v7.write(`${v7sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  await expectInvalid(t, v7, /unknown header format/);
  t.is(decodeHeader(Buffer.alloc(BLOCK)), null);
});

test('random corruption of real archives: every failure is ARCHIVE_INVALID, and what indexes agrees with tar-stream', async (t) => {
  const samples = await Promise.all(['docker-save.tar', 'oci-archive.tar', 'skopeo-dir-v2s2.tar'].map((f) => fs.readFile(path.join(SAMPLES, f))));
  let failures = 0;
  for (let round = 0; round < 400; round++) {
    const buf = Buffer.from(samples[round % samples.length]!);
    // Flip bytes inside header fields, where the damage matters (a name, the size, the checksum, the type).
    const headers = (await index(buf)).map((e) => e.start);
    for (let i = 0; i < 1 + (round % 3); i++) {
      const at = headers[Math.floor(Math.random() * headers.length)]! + [0, 124, 130, 148, 156, 257][Math.floor(Math.random() * 6)]! + Math.floor(Math.random() * 8);
      buf[at] = Math.floor(Math.random() * 256);
    }
    const cut = round % 5 === 0 ? buf.subarray(0, Math.floor(Math.random() * buf.length)) : buf;
    try {
      const ours = await index(cut);
      // What indexes has the size and name tar-stream sees, whenever tar-stream reads it at all.
      const theirs = await tarStreamEntries(cut).catch(() => undefined);
      if (theirs) t.deepEqual(ours.map((e) => [e.name, e.size]), theirs.map((e) => [e.name, e.size]));
    } catch (err) {
      failures++;
      t.true(err instanceof BerthError && err.code === 'ARCHIVE_INVALID', String(err));
    }
  }
  t.true(failures > 50, `only ${failures} corruptions failed`);
});

test('the header writer: long names and links through pax, read back by tar-stream, tar(1) and the reader', async (t) => {
  const long = `${'d'.repeat(150)}/${'f'.repeat(120)}`;
  const content = randomBytes(777);
  const archive = Buffer.concat([
    encodeHeader({ name: 'dir/', type: 'directory', size: 0, mode: 0o755, mtime: 1700000000 }),
    encodeHeader({ name: long, type: 'file', size: content.length, mode: 0o644, mtime: 1700000000 }),
    content,
    padding(content.length),
    encodeHeader({ name: 'link', type: 'symlink', size: 0, mode: 0o777, mtime: 1700000000, linkname: 'l'.repeat(200) }),
    END_OF_ARCHIVE,
  ]);
  const theirs = await tarStreamEntries(archive);
  t.deepEqual(theirs.map((e) => [e.name, e.type, e.linkname, e.size]), [
    ['dir/', 'directory', null, 0],
    [long, 'file', null, 777],
    ['link', 'symlink', 'l'.repeat(200), 0],
  ]);
  t.true(theirs[1]!.data.equals(content));
  t.deepEqual((await index(archive)).map((e) => [e.name, e.linkname, e.size]), theirs.map((e) => [e.name, e.linkname, e.size]));
  const listed = execFileSync('tar', ['-tvf', '-'], { input: archive }).toString();
  t.true(listed.includes(long) && listed.includes(`link -> ${'l'.repeat(200)}`), listed);
});
