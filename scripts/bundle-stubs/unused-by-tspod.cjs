// Stands in, inside the bundle only, for openapi-backend dependencies that tspod never reaches:
// it runs openapi-backend with `quick: true, validate: false` on an in-memory definition
// (validation uses validators precompiled by codegen), so definition validation
// (openapi-schema-validator), $ref file resolution (json-schema-ref-parser), runtime schema
// compilation (ajv) and response mocking (mock-json-schema) are dead weight at start-up
// (~800 KB of module code). Reaching one of them is a bug: it fails loudly.
'use strict';
function unused(name) {
  return () => {
    throw new Error(`tspod bundle: ${name} is not bundled (openapi-backend must run with quick: true, validate: false)`);
  };
}
// openapi-backend's quick init calls parse() on the in-memory document without awaiting it.
const refParser = {
  parse: async (doc) => doc,
  dereference: unused('json-schema-ref-parser.dereference'),
  resolve: unused('json-schema-ref-parser.resolve'),
};
module.exports = refParser;
module.exports.default = refParser;
module.exports.mock = unused('mock-json-schema');
module.exports.Ajv = unused('ajv');
