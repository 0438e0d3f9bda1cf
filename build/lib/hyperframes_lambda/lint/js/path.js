// Node's `path` (posix), from path-browserify: see host.js.
const path = globalThis.__hfLintHost.path;
export const { resolve, join, dirname, basename, extname, relative, normalize } = path;
export const { isAbsolute, sep, delimiter, parse, format, posix } = path;
export default path;
