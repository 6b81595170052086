'use strict';
// Stands in for iconv-lite (~480 KB of code pages) in Piko's Lambda bundles (see infra/bundling.ts).
//
// mysql2 3.x calls iconv-lite only through `getDecoder(encoding[, options])` and
// `getEncoder(encoding, options)` (lib/parsers/string.js), and only for encodings Node's Buffer does not
// know. On a utf8mb4 connection that is `cesu8`: the handshake's server version and the auth-switch
// request's plugin name (and any utf8mb3 value) are decoded as CESU-8. CESU-8 is UTF-8 in which a
// supplementary character is written as its UTF-16 surrogate pair, each half a 3-byte sequence.
//
// This shim decodes and encodes CESU-8 and the encodings Buffer has (utf8, ucs2/utf16le, latin1/binary,
// ascii, base64, hex), and names the problem for any other character set. Unlike iconv-lite it keeps a
// leading U+FEFF unless asked to strip it (`{ stripBOM: true }`): in MySQL it is data, not a byte order mark.
const { StringDecoder } = require('node:string_decoder');

const REPLACEMENT = 0xfffd;

/** iconv-lite's canonical form of an encoding name: lower case, letters and digits only. */
function canonical(encoding) {
  return String(encoding)
    .toLowerCase()
    .replace(/[^0-9a-z]/g, '');
}

/** Canonical name → the Buffer encoding it is. */
const BUFFER_ENCODINGS = new Map([
  ['utf8', 'utf8'],
  ['unicode11utf8', 'utf8'],
  ['ucs2', 'utf16le'],
  ['utf16le', 'utf16le'],
  ['latin1', 'latin1'],
  ['binary', 'latin1'],
  ['iso88591', 'latin1'],
  ['ascii', 'ascii'],
  ['usascii', 'ascii'],
  ['base64', 'base64'],
  ['hex', 'hex'],
]);

function unsupported(encoding) {
  return new Error(
    `Character set "${encoding}" cannot be decoded in Piko's Lambda bundles (they carry a small stand-in for ` +
      'iconv-lite that knows cesu8 and the encodings Node.js has): connect with charset utf8mb4 (the default), ' +
      'or convert the column in SQL (CONVERT(col USING utf8mb4))',
  );
}

/** Decodes CESU-8 (and, leniently, 4-byte UTF-8) across chunks; invalid bytes become U+FFFD. */
class Cesu8Decoder {
  constructor(options) {
    this.stripBOM = Boolean(options && options.stripBOM === true);
    this.pending = Buffer.alloc(0); // the start of a sequence cut by the chunk's end
    this.high = 0; // a decoded high surrogate waiting for its low half
    this.started = false;
  }

  write(chunk) {
    const bytes = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    this.pending = Buffer.alloc(0);
    const units = [];
    let i = 0;
    while (i < bytes.length) {
      const lead = bytes[i];
      if (lead < 0x80) {
        this.#push(units, lead);
        i += 1;
        continue;
      }
      const length =
        lead >= 0xc2 && lead < 0xe0
          ? 2
          : lead >= 0xe0 && lead < 0xf0
            ? 3
            : lead >= 0xf0 && lead < 0xf5
              ? 4
              : 0;
      if (length === 0) {
        this.#push(units, REPLACEMENT);
        i += 1;
        continue;
      }
      // The continuation bytes present, up to the first that is not one.
      let valid = 1;
      while (valid < length && i + valid < bytes.length && isContinuation(bytes, i, valid)) valid += 1;
      if (valid < length && i + valid === bytes.length) {
        this.pending = Buffer.from(bytes.subarray(i)); // cut by the chunk: wait for the rest
        break;
      }
      if (valid < length) {
        this.#push(units, REPLACEMENT);
        i += valid;
        continue;
      }
      let codePoint = lead & (length === 2 ? 0x1f : length === 3 ? 0x0f : 0x07);
      for (let k = 1; k < length; k++) codePoint = (codePoint << 6) | (bytes[i + k] & 0x3f);
      this.#push(units, codePoint);
      i += length;
    }
    return this.#text(units);
  }

  end() {
    const units = [];
    if (this.pending.length) units.push(REPLACEMENT);
    if (this.high) units.push(REPLACEMENT);
    this.pending = Buffer.alloc(0);
    this.high = 0;
    return this.#text(units);
  }

  /** Adds a code point: pairs surrogate halves, and replaces a half that has no partner. */
  #push(units, codePoint) {
    if (this.high) {
      const high = this.high;
      this.high = 0;
      if (codePoint >= 0xdc00 && codePoint <= 0xdfff) {
        units.push(high, codePoint);
        return;
      }
      units.push(REPLACEMENT);
    }
    if (codePoint >= 0xd800 && codePoint <= 0xdbff) this.high = codePoint;
    else if (codePoint >= 0xdc00 && codePoint <= 0xdfff) units.push(REPLACEMENT);
    else if (codePoint > 0xffff)
      units.push(0xd800 + ((codePoint - 0x10000) >> 10), 0xdc00 + ((codePoint - 0x10000) & 0x3ff));
    else units.push(codePoint);
  }

  #text(units) {
    if (!this.started && units.length) {
      this.started = true;
      if (this.stripBOM && units[0] === 0xfeff) units.shift();
    }
    let text = '';
    for (let start = 0; start < units.length; start += 4096) {
      text += String.fromCharCode(...units.slice(start, start + 4096));
    }
    return text;
  }
}

/** Whether byte `offset` after the lead at `i` continues the sequence (with UTF-8's bounds on the second byte). */
function isContinuation(bytes, i, offset) {
  const byte = bytes[i + offset];
  if ((byte & 0xc0) !== 0x80) return false;
  if (offset !== 1) return true;
  const lead = bytes[i];
  if (lead === 0xe0) return byte >= 0xa0; // no overlong 3-byte forms
  if (lead === 0xf0) return byte >= 0x90; // no overlong 4-byte forms
  if (lead === 0xf4) return byte <= 0x8f; // nothing above U+10FFFF
  return true; // 0xED A0–BF are the surrogate halves CESU-8 is made of
}

/** Encodes CESU-8: every UTF-16 code unit as 1–3 bytes; an unpaired surrogate as U+FFFD. */
class Cesu8Encoder {
  constructor() {
    this.high = '';
  }

  write(text) {
    const units = this.high + text;
    this.high = '';
    const out = Buffer.alloc(units.length * 3);
    let n = 0;
    for (let i = 0; i < units.length; i++) {
      let unit = units.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff) {
        if (i === units.length - 1) {
          this.high = units[i]; // its low half may come with the next chunk
          break;
        }
        const next = units.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          n = put(out, n, unit);
          unit = next;
          i += 1;
        } else {
          unit = REPLACEMENT;
        }
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        unit = REPLACEMENT;
      }
      n = put(out, n, unit);
    }
    return out.subarray(0, n);
  }

  end() {
    const unpaired = this.high !== '';
    this.high = '';
    return unpaired ? Buffer.from([0xef, 0xbf, 0xbd]) : undefined;
  }
}

function put(out, n, unit) {
  if (unit < 0x80) {
    out[n] = unit;
    return n + 1;
  }
  if (unit < 0x800) {
    out[n] = 0xc0 | (unit >> 6);
    out[n + 1] = 0x80 | (unit & 0x3f);
    return n + 2;
  }
  out[n] = 0xe0 | (unit >> 12);
  out[n + 1] = 0x80 | ((unit >> 6) & 0x3f);
  out[n + 2] = 0x80 | (unit & 0x3f);
  return n + 3;
}

/** A Buffer encoding as an iconv-lite decoder. */
class BufferDecoder {
  constructor(encoding, options) {
    this.decoder = new StringDecoder(encoding);
    this.stripBOM = Boolean(options && options.stripBOM === true);
    this.started = false;
  }

  write(chunk) {
    return this.#strip(this.decoder.write(Buffer.from(chunk)));
  }

  end() {
    return this.#strip(this.decoder.end());
  }

  #strip(text) {
    if (this.started || !text) return text;
    this.started = true;
    return this.stripBOM && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/** A Buffer encoding as an iconv-lite encoder. */
class BufferEncoder {
  constructor(encoding) {
    this.encoding = encoding;
  }

  write(text) {
    return Buffer.from(text, this.encoding);
  }

  end() {
    return undefined;
  }
}

function encodingExists(encoding) {
  const name = canonical(encoding);
  return name === 'cesu8' || BUFFER_ENCODINGS.has(name);
}

function getDecoder(encoding, options) {
  const name = canonical(encoding);
  if (name === 'cesu8') return new Cesu8Decoder(options);
  const bufferEncoding = BUFFER_ENCODINGS.get(name);
  if (bufferEncoding) return new BufferDecoder(bufferEncoding, options);
  throw unsupported(encoding);
}

function getEncoder(encoding) {
  const name = canonical(encoding);
  if (name === 'cesu8') return new Cesu8Encoder();
  const bufferEncoding = BUFFER_ENCODINGS.get(name);
  if (bufferEncoding) return new BufferEncoder(bufferEncoding);
  throw unsupported(encoding);
}

function decode(buffer, encoding, options) {
  const decoder = getDecoder(encoding, options);
  return decoder.write(buffer) + decoder.end();
}

function encode(text, encoding, options) {
  const encoder = getEncoder(encoding, options);
  const head = encoder.write(String(text));
  const tail = encoder.end();
  return tail?.length ? Buffer.concat([head, tail]) : head;
}

module.exports = { encodingExists, getDecoder, getEncoder, decode, encode };
