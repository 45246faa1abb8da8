/**
 * Checks done before anything trains, so that a sweep fails in its first second rather than
 * after its first run: the output folder is writable, the thread count fits the machine.
 */

/**
 * Creates `dir` if needed and checks that a file can be created, written and removed in it.
 * Throws a one-line error naming `field` otherwise.
 */
export async function checkWritable(dir: string, field = "out"): Promise<void> {
  const probe = `${dir.replace(/\/+$/, "") || "/"}/.write-check.${Deno.pid}-${
    Math.floor(Math.random() * 1e9)
  }`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(probe, "ok\n", { createNew: true });
    await Deno.remove(probe);
  } catch (err) {
    await Deno.remove(probe).catch(() => {});
    throw new Error(
      `${field}: cannot write to ${dir} (${(err as Error).message}); ` +
        `choose a writable folder with --out DIR`,
    );
  }
}

/** The machine's CPU count (logical cores, as the OS reports them). */
export function machineCores(): number {
  return navigator.hardwareConcurrency || 1;
}

/**
 * Checks a `--threads` value: 0 means "one per core"; more threads than `cores` is refused
 * unless `force` (more threads than cores makes small runs crawl). Throws a one-line error.
 */
export function checkThreads(threads: number, cores = machineCores(), force = false): void {
  if (!Number.isInteger(threads) || threads < 0) {
    throw new Error(`threads: must be an integer >= 0 (0: one per core), got ${threads}`);
  }
  if (threads > cores && !force) {
    throw new Error(
      `threads: ${threads} is more than this machine's ${cores} cores ` +
        `(at most ${cores}; add --force-threads to use more anyway)`,
    );
  }
}
