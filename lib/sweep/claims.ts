/**
 * Claims: how several sweep processes (on one machine or on machines sharing a filesystem)
 * split the runs of one output folder. Before training a run a worker creates
 * `<outDir>/claims/<run_id>.json` atomically (written to a temp file, then hard-linked to its
 * name, which fails if the name exists), holding its host, pid, owner tag (a Slurm job array
 * task or a Kubernetes pod, when there is one) and a random token; while the run trains the
 * worker touches the file's mtime every `heartbeatMs` (the heartbeat). Finished runs have a
 * record and are never claimed again; the claim is removed after the record is written.
 *
 * A claim is stale, and taken over, when its process is gone: same host and that pid no longer
 * exists, or same owner tag (a requeued Slurm task reruns under the same tag), or no heartbeat
 * for `staleAfterMs`. A takeover renames the stale file away first (only one taker can rename
 * it) and checks that what it renamed is the stale claim it judged; at worst two workers train
 * the same run, never does a run get lost or a record corrupted (records are written atomically).
 */
import process from "node:process";
import { decodeRecord, recordPath } from "./records.ts";

/** Where the claims of an output folder live. */
export function claimsDir(outDir: string): string {
  return `${outDir.replace(/\/+$/, "") || "/"}/claims`;
}

/** What a claim file holds. */
export interface ClaimInfo {
  run_id: string;
  host: string;
  pid: number;
  /** Slurm `<array job>_<task>` or a pod name: the same tag means the same worker restarted. */
  owner?: string;
  token: string;
  claimed_at: string;
}

/** Options of Claims; all injectable for tests. */
export interface ClaimOptions {
  /** Default: hostName(). */
  host?: string;
  /** Default: Deno.pid. */
  pid?: number;
  /** Default: ownerTag() from the environment. */
  owner?: string;
  /** Heartbeat period, ms (default 5000). */
  heartbeatMs?: number;
  /** A claim without heartbeat for this long is stale, ms (default 60000). */
  staleAfterMs?: number;
}

/** The worker's owner tag from the environment: Slurm array task, Slurm job, or pod name. */
export function ownerTag(env: (k: string) => string | undefined = (k) => Deno.env.get(k)) {
  const job = env("SLURM_ARRAY_JOB_ID"), task = env("SLURM_ARRAY_TASK_ID");
  if (job && task) return `slurm:${job}_${task}`;
  if (env("SLURM_JOB_ID")) return `slurm:${env("SLURM_JOB_ID")}`;
  const index = env("JOB_COMPLETION_INDEX");
  if (index !== undefined && env("HOSTNAME")) return `k8s:${env("HOSTNAME")}`;
  return undefined;
}

/** This machine's name (Deno.hostname(), else $HOSTNAME, else "localhost"). */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return Deno.env.get("HOSTNAME") || "localhost";
  }
}

/**
 * Whether process `pid` exists on this machine: signal 0 (needs --allow-run; true when that
 * cannot be told, so that a claim is then judged by its heartbeat alone).
 */
function alive(pid: number): boolean {
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== "ESRCH";
  }
}

/** Whether run `id` has a valid record in `outDir` (an invalid one counts as not done). */
export async function hasRecord(outDir: string, id: string): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(recordPath(outDir, id));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  try {
    decodeRecord(text, id);
    return true;
  } catch {
    return false;
  }
}

function randomToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** How a run stands for this worker after trying to claim it. */
export type ClaimState = "mine" | "done" | "busy";

/** The claims this worker holds in one output folder, with their heartbeat. */
export class Claims {
  readonly dir: string;
  readonly outDir: string;
  readonly host: string;
  readonly pid: number;
  readonly owner?: string;
  readonly heartbeatMs: number;
  readonly staleAfterMs: number;
  #held = new Map<string, string>();
  #timer?: ReturnType<typeof setInterval>;

  constructor(outDir: string, opts: ClaimOptions = {}) {
    this.outDir = outDir;
    this.dir = claimsDir(outDir);
    this.host = opts.host ?? hostName();
    this.pid = opts.pid ?? Deno.pid;
    this.owner = opts.owner ?? ownerTag();
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
  }

  /** Run ids currently claimed by this worker. */
  get held(): string[] {
    return [...this.#held.keys()];
  }

  #path(id: string): string {
    return `${this.dir}/${id}.json`;
  }

  /** Creates the claim file for `id` atomically; false if one exists. */
  async #create(id: string): Promise<boolean> {
    await Deno.mkdir(this.dir, { recursive: true });
    const info: ClaimInfo = {
      run_id: id,
      host: this.host,
      pid: this.pid,
      ...(this.owner ? { owner: this.owner } : {}),
      token: randomToken(),
      claimed_at: new Date().toISOString(),
    };
    const tmp = `${this.dir}/.${id}.${this.pid}-${info.token}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(info) + "\n", { createNew: true });
    try {
      await Deno.link(tmp, this.#path(id));
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw err;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    this.#held.set(id, info.token);
    this.#startHeartbeat();
    return true;
  }

  /** Why the existing claim of `id` is stale, or undefined if it is live (or gone). */
  async #staleness(id: string): Promise<{ token?: string; why: string } | undefined> {
    let info: Partial<ClaimInfo> = {};
    let mtime: Date | null;
    try {
      const path = this.#path(id);
      mtime = (await Deno.stat(path)).mtime;
      info = JSON.parse(await Deno.readTextFile(path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      if (!(err instanceof SyntaxError)) throw err;
      mtime = null;
    }
    if (info.owner !== undefined && info.owner === this.owner && info.pid !== this.pid) {
      return { token: info.token, why: `its worker ${info.owner} restarted` };
    }
    if (info.host === this.host && typeof info.pid === "number" && !alive(info.pid)) {
      return { token: info.token, why: `process ${info.pid} on ${info.host} is gone` };
    }
    const age = mtime ? Date.now() - mtime.getTime() : 0;
    if (age > this.staleAfterMs) {
      return { token: info.token, why: `no heartbeat for ${Math.round(age / 1000)} s` };
    }
    return undefined;
  }

  /**
   * Tries to claim run `id`: "done" if it has a record, "mine" if this worker now holds its
   * claim (taking over a stale one; `onTakeover` hears why), "busy" if a live worker holds it.
   */
  async claim(id: string, onTakeover?: (why: string) => void): Promise<ClaimState> {
    if (this.#held.has(id)) return "mine";
    if (await hasRecord(this.outDir, id)) return "done";
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.#create(id)) {
        // The run may have finished between the record check and the claim.
        if (await hasRecord(this.outDir, id)) {
          await this.release(id);
          return "done";
        }
        return "mine";
      }
      const stale = await this.#staleness(id);
      if (!stale) return (await hasRecord(this.outDir, id)) ? "done" : "busy";
      const tomb = `${this.dir}/.${id}.stale-${randomToken()}`;
      try {
        await Deno.rename(this.#path(id), tomb);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw err;
      }
      let moved: Partial<ClaimInfo> = {};
      try {
        moved = JSON.parse(await Deno.readTextFile(tomb));
      } catch { /* unreadable: it was the unreadable stale one */ }
      if (moved.token !== stale.token) {
        // Another taker replaced the stale claim in between: put its fresh claim back.
        await Deno.link(tomb, this.#path(id)).catch(() => {});
        await Deno.remove(tomb).catch(() => {});
        return "busy";
      }
      await Deno.remove(tomb).catch(() => {});
      onTakeover?.(stale.why);
    }
    return "busy";
  }

  /** Removes this worker's claim of `id` (if it still is this worker's). */
  async release(id: string): Promise<void> {
    const token = this.#held.get(id);
    if (token === undefined) return;
    this.#held.delete(id);
    if (this.#held.size === 0) this.#stopHeartbeat();
    try {
      const info = JSON.parse(await Deno.readTextFile(this.#path(id))) as ClaimInfo;
      if (info.token === token) await Deno.remove(this.#path(id));
    } catch { /* gone or replaced: nothing to release */ }
  }

  /** Releases every claim held (e.g. on the way out). */
  async releaseAll(): Promise<void> {
    for (const id of this.held) await this.release(id);
  }

  /** Touches every held claim now (the heartbeat). */
  beat(): void {
    const now = new Date();
    for (const id of this.#held.keys()) {
      try {
        Deno.utimeSync(this.#path(id), now, now);
      } catch { /* taken over or removed: the record decides */ }
    }
  }

  #startHeartbeat(): void {
    if (this.#timer !== undefined) return;
    const timer = setInterval(() => this.beat(), this.heartbeatMs);
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }

  #stopHeartbeat(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
