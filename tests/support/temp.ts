/** Temporary folders for tests. */

/** Runs `fn` in a fresh temporary folder named `prefix…`, removed afterwards (also on failure). */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
