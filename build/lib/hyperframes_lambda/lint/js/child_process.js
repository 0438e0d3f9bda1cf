// Node's `child_process`: no programs run in the page (see host.js).
export const { execFile, execFileSync } = globalThis.__hfLintHost.childProcess;
export default globalThis.__hfLintHost.childProcess;
