// The `Range` request header for blob reads: one `bytes=` range, as clients send to resume a layer.
// Several ranges or another unit are ignored and the whole blob is served (RFC 9110 allows it); a
// malformed or unsatisfiable bytes range is RANGE_INVALID (416), as Go's http.ServeContent answers.
import { BerthError } from '../../errors.js';
import type { ByteRange } from '../../services/registry.js';

export function parseRange(header: string, size: number): ByteRange | undefined {
  const unit = /^\s*bytes\s*=\s*(.*?)\s*$/i.exec(header);
  if (!unit || unit[1]!.includes(',')) return undefined;
  const invalid = () => new BerthError('RANGE_INVALID', 'requested range not satisfiable', { range: header.slice(0, 100), size });
  const match = /^(\d*)\s*-\s*(\d*)$/.exec(unit[1]!);
  if (!match || (match[1] === '' && match[2] === '')) throw invalid();
  const [first, last] = [match[1]!, match[2]!];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= size || (last !== '' && Number(last) < start)) throw invalid();
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
