/** Runs a deno.json task as a direct child, for the tests of the task entry points. */

const TASKS: Record<string, string> = JSON.parse(Deno.readTextFileSync("deno.json")).tasks;

/** The `deno` arguments of task `name` (its `run` and permissions) followed by `args`. */
export function taskArgs(name: string, args: string[]): string[] {
  const [, run, ...rest] = TASKS[name].split(/\s+/);
  return [run, ...rest, ...args];
}

/** Runs a task with deno.json's permissions (as `deno task` would), as a direct child. */
export async function task(
  name: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: taskArgs(name, args),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}
