// Node's `fs`, as HyperFrames' linter uses it: see host.js.
const fs = globalThis.__hfLintHost.fs;
export const { constants, existsSync, accessSync, realpathSync, statSync, readdirSync } = fs;
export const { openSync, fstatSync, closeSync, readFileSync } = fs;
export default fs;
