/** Runs the Python checkers of tests/python with the system Python. */
import assert from "node:assert/strict";

const PYTHON = "/usr/bin/python3";
const REPO = new URL("../..", import.meta.url).pathname;

/**
 * Runs `tests/python/<script> <dir>` (no bytecode written into the checkout) and returns its
 * stdout + stderr. Fails unless it exits 0; a Python that cannot start, or exit status 3 (a
 * package missing: `lacks`, e.g. "onnx or numpy"), throws with the install `hint`.
 */
export async function runPythonCheck(
  script: string,
  dir: string,
  lacks: string,
  hint: string,
): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(PYTHON, {
      args: [`${REPO}tests/python/${script}`, dir],
      env: { PYTHONDONTWRITEBYTECODE: "1" }, // no __pycache__ in the checkout
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new Error(`${PYTHON} cannot run (${(e as Error).message}): ${hint}`);
  }
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code === 3) throw new Error(`Python lacks ${lacks}: ${hint}\n${text}`);
  assert.equal(out.code, 0, `tests/python/${script} failed:\n${text}`);
  return text;
}
