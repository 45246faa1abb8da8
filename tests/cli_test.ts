/** runMain: usage errors are one line with exit code 2, internal errors print their stack (70). */
import assert from "node:assert/strict";
import { INTERNAL_EXIT, USAGE_EXIT } from "../lib/cli/args.ts";

async function demo(arg: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "tests/support/cli_main.ts", arg],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
}

Deno.test("usage errors: one line on stderr, exit code 2", async () => {
  const cases: [string, RegExp][] = [
    ["usage", /^demo: --n: must be a positive integer, got 'x'$/],
    ["input", /^demo: lrs: must be positive numbers, got -1$/],
    ["flag", /^demo: Unknown option '--nope'/],
    ["file", /^demo: No such file or directory .*moe-onnx-cli-test/],
  ];
  for (const [arg, want] of cases) {
    const r = await demo(arg);
    assert.equal(r.code, USAGE_EXIT, `${arg}: ${r.stderr}`);
    assert.equal(r.stderr.split("\n").length, 1, r.stderr);
    assert.match(r.stderr, want);
  }
});

Deno.test("internal errors: the stack on stderr, a distinct exit code", async () => {
  assert.notEqual(INTERNAL_EXIT, USAGE_EXIT);
  const r = await demo("bug");
  assert.equal(r.code, INTERNAL_EXIT, r.stderr);
  assert.match(r.stderr, /^demo: internal error \(please report it\): TypeError: /);
  assert.match(r.stderr, /\n\s+at bug \(.*cli_main\.ts:\d+:\d+\)/);
  assert.equal((await demo("ok")).code, 0);
});
