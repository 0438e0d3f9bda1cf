// Node's `url`: file URLs only.
export const { fileURLToPath, pathToFileURL } = globalThis.__hfLintHost;
export default { fileURLToPath, pathToFileURL };
