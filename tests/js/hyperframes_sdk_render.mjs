// HyperFrames' own SDK against our stack (tests/test_hyperframes_client.py): renderToLambda,
// then getRenderProgress until the execution ends; prints {handle, progress} as JSON.
// Usage: node hyperframes_sdk_render.mjs PROJECT_DIR BUCKET STATE_MACHINE_ARN REGION CONFIG_JSON
import { getRenderProgress, renderToLambda } from "@hyperframes/aws-lambda/sdk";

const [projectDir, bucketName, stateMachineArn, region, configJson] = process.argv.slice(2);
const handle = await renderToLambda({
  projectDir,
  bucketName,
  stateMachineArn,
  region,
  config: JSON.parse(configJson),
});
let progress;
for (;;) {
  progress = await getRenderProgress({ executionArn: handle.executionArn, region });
  if (progress.status !== "RUNNING") break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(JSON.stringify({ handle, progress }));
