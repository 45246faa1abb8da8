/**
 * `deno task test`: runs the test suite with onnxruntime's native cache (XDG_CACHE_HOME)
 * pointed at a temp dir, while Deno keeps using its own cache (DENO_DIR), so tests neither
 * write under ~/.cache nor re-download packages. Extra arguments go to `deno test`.
 */
const denoDir = Deno.env.get("DENO_DIR") ?? await denoCacheDir();
const xdg = await Deno.makeTempDir({ prefix: "moe-onnx-xdg-" });
const perms = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-run",
  "--allow-sys",
];
const args = Deno.args.length ? Deno.args : ["tests/"];
try {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["test", ...perms, ...args],
    env: { XDG_CACHE_HOME: xdg, DENO_DIR: denoDir },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exitCode = code;
} finally {
  await Deno.remove(xdg, { recursive: true }).catch(() => {});
}

async function denoCacheDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}
