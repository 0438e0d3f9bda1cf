// Node's `module`: the bundles' createRequire (see host.js).
export const createRequire = globalThis.__hfLintHost.createRequire;
export default { createRequire };
