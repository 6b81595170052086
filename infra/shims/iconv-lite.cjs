'use strict';
// Stands in for iconv-lite in Lambda bundles (see infra/bundling.ts). mysql2 calls it only for
// character sets that Node's Buffer cannot decode; Piko connects with utf8mb4.
function unsupported(encoding) {
  throw new Error(
    `Character set "${encoding}" is not available in Piko's Lambda bundles (iconv-lite is left out): ` +
      'connect with charset utf8mb4 (the default)',
  );
}
module.exports = {
  encodingExists: (encoding) => Buffer.isEncoding(encoding),
  getDecoder: unsupported,
  getEncoder: unsupported,
  decode: (_buffer, encoding) => unsupported(encoding),
  encode: (_text, encoding) => unsupported(encoding),
};
