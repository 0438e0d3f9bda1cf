// Runs HyperFrames' own lintProject (the pinned module the import map calls
// "hyperframes-lint") and hands its result to the Python side as JSON.
import { lintProject } from "hyperframes-lint";

window.__hfLint = {
  async run(projectDir, entryFile) {
    const result = await lintProject(projectDir, entryFile || undefined);
    return JSON.stringify(result);
  },
};
