/**
 * Atomic file replacement: write a sibling temp file, flush it to disk, then rename it over the
 * target. A rename within one directory is atomic on POSIX, so a reader (or a process killed
 * mid-write) sees either the old file or the complete new one, never a torn file.
 */

/** Directory part of a path ("." when there is none). */
function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * Writes `data` to `path` atomically, creating the parent directory if needed.
 * The temp file is `.<name>.<pid>-<random>.tmp` in the same directory (same filesystem, so the
 * rename is atomic; `*.tmp` is git-ignored) and is removed if anything fails.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if (typeof path !== "string" || path === "" || path.endsWith("/")) {
    throw new Error(`path: must be a file path, got ${JSON.stringify(path)}`);
  }
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirOf(path);
  const base = path.slice(path.lastIndexOf("/") + 1);
  await Deno.mkdir(dir, { recursive: true });
  const rand = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
  const tmp = `${dir}/.${base}.${Deno.pid}-${rand}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
      // Flush before the rename so a crash cannot leave the new name pointing at lost data.
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
