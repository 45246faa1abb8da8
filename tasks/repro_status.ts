/**
 * `deno task repro-status`: rewrites the reproduction-status table of README.md from the
 * committed reports under docs/reproduction/ (see lib/experiments/repro_status.ts).
 */
import { runMain } from "../lib/cli/args.ts";
import { readStatusInputs, renderStatus, replaceStatus } from "../lib/experiments/repro_status.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";

await runMain("repro-status", async () => {
  const inputs = await readStatusInputs("docs/reproduction");
  const readme = await Deno.readTextFile("README.md");
  await writeFileAtomic("README.md", replaceStatus(readme, renderStatus(inputs)));
  console.log(`README.md: reproduction status of ${inputs.length} report(s)`);
  return 0;
});
