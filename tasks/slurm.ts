/**
 * `deno task slurm <experiment> [sweep flags] --shards N [--partition P] [--time T] [--cpus C]
 * [--mem M] [--submit] [--k8s [--image I] [--claim PVC]] [--jobs DIR]`: writes the cluster
 * jobs of a sharded sweep into DIR (default <sweep folder>/jobs): an sbatch job array (one task
 * per shard, all into the sweep's one output folder, requeue-safe), a merge-and-plot job that
 * depends on it (afterok) and submit.sh; with --submit, submits them. With --k8s, a Kubernetes
 * Indexed Job and a merge Job instead (JSON manifests). The sweep flags are checked by the
 * sweep itself (`--dry-run`) before anything is written.
 */
import { parseArgs } from "node:util";
import { runMain, UsageError } from "../lib/cli/args.ts";
import {
  type ClusterSpec,
  k8sManifests,
  mergeSbatch,
  submitScript,
  sweepSbatch,
} from "../lib/sweep/slurm.ts";

const USAGE = "usage: deno task slurm <experiment> [sweep flags] --shards N [--partition P] " +
  "[--time T] [--cpus C] [--mem M] [--submit] [--k8s [--image I] [--claim PVC]] [--jobs DIR]";

const OWN = {
  shards: { type: "string" },
  partition: { type: "string" },
  time: { type: "string" },
  cpus: { type: "string" },
  mem: { type: "string" },
  submit: { type: "boolean" },
  k8s: { type: "boolean" },
  image: { type: "string" },
  claim: { type: "string" },
  jobs: { type: "string" },
  help: { type: "boolean" },
} as const;

/** Splits argv into this task's flags and the sweep's (everything else, in order). */
function split(args: string[]): { own: string[]; sweep: string[] } {
  const own: string[] = [], sweep: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([a-z0-9-]+)(=.*)?$/.exec(args[i]);
    const spec = name ? (OWN as Record<string, { type: string }>)[name[1]] : undefined;
    if (!spec) {
      sweep.push(args[i]);
      continue;
    }
    own.push(args[i]);
    if (spec.type === "string" && !name![2] && i + 1 < args.length) own.push(args[++i]);
  }
  return { own, sweep };
}

const TASKS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks;
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A deno.json task as argv with this deno binary (no `deno task` shell in between). */
function taskArgv(task: string, deno = Deno.execPath()): string[] {
  const [, ...rest] = TASKS[task].split(/\s+/);
  return [deno, ...rest];
}

const posInt = (flag: string, v: string | undefined, dflt?: number): number => {
  if (v === undefined && dflt !== undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${flag}: must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return n;
};

async function run(argv: string[], what: string): Promise<string> {
  const o = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output().catch((e) => {
      throw new Error(`${what}: cannot run ${argv[0]} (${(e as Error).message})`);
    });
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  if (o.code !== 0) throw new Error(dec(o.stderr).trim().split("\n").at(-1) || `${what} failed`);
  return dec(o.stdout);
}

await runMain("slurm", async () => {
  const { own, sweep: sweepArgs } = split(Deno.args);
  const { values: v } = parseArgs({ args: own, options: OWN, strict: true });
  if (v.help || Deno.args.length === 0) {
    console.log(USAGE);
    return v.help ? 0 : 2;
  }
  const shards = posInt("shards", v.shards);
  const cpus = posInt("cpus", v.cpus, 1);
  for (const f of ["--shard", "--dry-run"]) {
    if (sweepArgs.some((a) => a === f || a.startsWith(`${f}=`))) {
      throw new UsageError(`${f}: set by the jobs (one shard per task); leave it out`);
    }
  }
  if (v.mem !== undefined && !/^\d+[KMGT]?$/.test(v.mem)) {
    throw new UsageError(`--mem: must be like 4000 (MB) or 4G, got '${v.mem}'`);
  }
  if (v.time !== undefined && !/^(\d+-)?\d+(:\d\d){0,2}$/.test(v.time)) {
    throw new UsageError(`--time: must be minutes or [D-]H:MM:SS, got '${v.time}'`);
  }
  // The sweep checks its own flags and says where it writes.
  const withThreads = sweepArgs.some((a) => a === "--threads" || a.startsWith("--threads="))
    ? sweepArgs
    : [...sweepArgs, "--threads", String(cpus)];
  const dry = await run([...taskArgv("sweep"), ...withThreads, "--dry-run"], "sweep --dry-run")
    .catch((e) => {
      throw new UsageError((e as Error).message.replace(/^sweep: /, ""));
    });
  const head = dry.split("\n")[0];
  const m = /^(\S+): (configuration [0-9a-f]{8}).* -> (\S+)$/.exec(head);
  if (!m) throw new Error(`unexpected sweep --dry-run output: ${head}`);
  const outDir = m[3].startsWith("/") ? m[3] : `${Deno.cwd()}/${m[3]}`;
  const folderName = outDir.slice(outDir.lastIndexOf("/") + 1);
  const outRoot = outDir.slice(0, outDir.lastIndexOf("/"));
  const jobs = v.jobs ?? `${outDir}/jobs`;
  const absJobs = jobs.startsWith("/") ? jobs : `${Deno.cwd()}/${jobs}`;
  const rest = withThreads.filter((_, i) =>
    !(withThreads[i] === "--out" || withThreads[i - 1] === "--out" ||
      withThreads[i].startsWith("--out="))
  );
  await Deno.mkdir(absJobs, { recursive: true });

  if (v.k8s) {
    const workdir = "/moe-onnx";
    const spec: ClusterSpec = {
      name: folderName,
      shards,
      sweep: ["deno", "task", "sweep", ...rest, "--out", outRoot],
      merge: ["deno", "task", "merge", outDir],
      workdir,
      logDir: absJobs,
      cpus,
      mem: v.mem,
      time: v.time,
    };
    const k = k8sManifests(spec, {
      image: v.image ?? "moe-onnx:latest",
      claim: v.claim ?? "moe-onnx-out",
      outRoot,
    });
    await Deno.writeTextFile(`${absJobs}/sweep-job.json`, JSON.stringify(k.sweep, null, 2) + "\n");
    await Deno.writeTextFile(`${absJobs}/merge-job.json`, JSON.stringify(k.merge, null, 2) + "\n");
    console.log(
      `${m[1]}: ${m[2]}: ${shards} shards -> ${outDir}\n` +
        `kubectl apply -f ${absJobs}/sweep-job.json && kubectl wait --for=condition=complete ` +
        `--timeout=-1s job/${(k.sweep as { metadata: { name: string } }).metadata.name} && ` +
        `kubectl apply -f ${absJobs}/merge-job.json`,
    );
    return 0;
  }

  const spec: ClusterSpec = {
    name: folderName,
    shards,
    sweep: [...taskArgv("sweep"), ...rest, "--out", outRoot],
    merge: [...taskArgv("merge"), outDir],
    workdir: ROOT,
    logDir: absJobs,
    cpus,
    mem: v.mem,
    time: v.time,
    partition: v.partition,
  };
  const sweepPath = `${absJobs}/sweep.sbatch`, mergePath = `${absJobs}/merge.sbatch`;
  await Deno.writeTextFile(sweepPath, sweepSbatch(spec));
  await Deno.writeTextFile(mergePath, mergeSbatch(spec));
  await Deno.writeTextFile(`${absJobs}/submit.sh`, submitScript(sweepPath, mergePath), {
    mode: 0o755,
  });
  console.log(`${m[1]}: ${m[2]}: ${shards} shards -> ${outDir}; jobs in ${absJobs}`);
  if (!v.submit) {
    console.log(`submit with: bash ${absJobs}/submit.sh`);
    return 0;
  }
  const array = (await run(["sbatch", "--parsable", sweepPath], "sbatch")).trim().split(";")[0];
  const merge = (await run(
    ["sbatch", "--parsable", `--dependency=afterok:${array}`, mergePath],
    "sbatch",
  )).trim().split(";")[0];
  console.log(`submitted: shard array ${array}, merge job ${merge}`);
  return 0;
});
