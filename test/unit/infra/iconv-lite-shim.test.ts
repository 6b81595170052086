import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
/** What the Lambda bundles carry in iconv-lite's place (infra/bundling.ts). */
const shim = require('../../../infra/shims/iconv-lite.cjs') as typeof import('iconv-lite');
/** The real thing, which mysql2 depends on, as the reference. */
const iconv = require('iconv-lite') as typeof import('iconv-lite');

const TEXTS = [
  '10.11.19-MariaDB-0+deb12u1',
  'mysql_clear_password',
  'prix: 12,50 € — déjà vu',
  'emoji 💩 and a clef 𝄞 between ascii',
  '',
  `${'x'.repeat(20_000)}😀`,
];

/** Decodes `bytes` one byte per `write`, as a stream cut anywhere would arrive. */
function decodeByteByByte(bytes: Buffer, encoding: string): string {
  const decoder = shim.getDecoder(encoding);
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += decoder.write(bytes.subarray(i, i + 1));
  return text + (decoder.end() ?? '');
}

describe('the iconv-lite stand-in of the Lambda bundles', () => {
  it.each(TEXTS)('encodes and decodes CESU-8 as iconv-lite does: %j', (text) => {
    const bytes = iconv.encode(text, 'cesu8');
    expect(shim.encode(text, 'cesu8').equals(bytes)).toBe(true);
    expect(shim.decode(bytes, 'cesu8')).toBe(text);
    expect(decodeByteByByte(bytes, 'cesu8')).toBe(text);
  });

  it('decodes a surrogate pair written as two 3-byte sequences, and 4-byte UTF-8 too', () => {
    expect(shim.decode(Buffer.from('eda0bdedb2a9', 'hex'), 'cesu8')).toBe('💩');
    expect(shim.decode(Buffer.from('f09f92a9', 'hex'), 'cesu8')).toBe('💩');
  });

  it('replaces unpaired surrogates and invalid bytes with U+FFFD', () => {
    expect(shim.decode(Buffer.from('eda0bd41', 'hex'), 'cesu8')).toBe('\ufffdA');
    expect(shim.decode(Buffer.from('edb2a9', 'hex'), 'cesu8')).toBe('\ufffd');
    expect(shim.decode(Buffer.from('ff41c3', 'hex'), 'cesu8')).toBe('\ufffdA\ufffd');
    expect(shim.decode(Buffer.from('c0af', 'hex'), 'cesu8')).toBe('\ufffd\ufffd');
  });

  it('decodes and encodes what Node’s Buffer has, under iconv-lite’s names', () => {
    expect(shim.decode(Buffer.from('héllo', 'utf8'), 'UTF-8')).toBe('héllo');
    expect(shim.decode(Buffer.from('héllo', 'utf16le'), 'utf16-le')).toBe('héllo');
    expect(shim.decode(Buffer.from('héllo', 'latin1'), 'binary')).toBe('héllo');
    expect(shim.encode('héllo', 'ucs2').equals(Buffer.from('héllo', 'utf16le'))).toBe(true);
    expect(['cesu8', 'utf8', 'ucs2', 'latin1', 'ascii', 'gbk', 'sjis'].map(shim.encodingExists)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('names the problem for any other character set', () => {
    expect(() => shim.getDecoder('gbk')).toThrow(
      'Character set "gbk" cannot be decoded in Piko\'s Lambda bundles (they carry a small stand-in for iconv-lite ' +
        'that knows cesu8 and the encodings Node.js has): connect with charset utf8mb4 (the default), or convert ' +
        'the column in SQL (CONVERT(col USING utf8mb4))',
    );
    expect(() => shim.getEncoder('cp1252')).toThrow('Character set "cp1252" cannot be decoded');
  });
});
