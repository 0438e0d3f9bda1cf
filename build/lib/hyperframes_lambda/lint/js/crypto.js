// Node's `crypto`: sha256 digests only (see host.js).
export const createHash = globalThis.__hfLintHost.createHash;
export default { createHash };
