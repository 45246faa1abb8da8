/** A CLI main failing in the way its argument names, for tests/cli_test.ts. */
import { parseArgs } from "node:util";
import { runMain, UsageError } from "../../lib/cli/args.ts";

function bug(x: { y?: { z: number } }): number {
  return x.y!.z;
}

await runMain("demo", () => {
  switch (Deno.args[0]) {
    case "usage":
      throw new UsageError("--n: must be a positive integer, got 'x'\nsecond line");
    case "input":
      throw new Error("lrs: must be positive numbers, got -1");
    case "flag":
      parseArgs({ args: ["--nope"], options: {} });
      break;
    case "file":
      Deno.readTextFileSync("/nonexistent/moe-onnx-cli-test");
      break;
    case "bug":
      return Promise.resolve(bug({}));
  }
  return Promise.resolve(0);
});
