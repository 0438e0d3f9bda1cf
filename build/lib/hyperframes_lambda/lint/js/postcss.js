// postcss, loaded from its pinned CommonJS files (its browser build; see host.js).
export default globalThis.__hfLintHost.require("postcss");
