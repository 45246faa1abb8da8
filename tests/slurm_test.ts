/**
 * A real one-node Slurm cluster (Debian's slurm-wlm and munge; `.ci/run` installs them): the
 * test writes its own config (CPUs from nproc, free ports, everything under a temp dir), starts
 * munged, slurmctld and slurmd, submits `deno task slurm --submit` for a tiny sweep of 3 shards,
 * requeues a shard while it trains, and checks the merged folder against an unsharded run.
 * The daemons are stopped at the end, also on failure. Skipped, with a one-line reason, only
 * where the packages are missing (could not be installed) or the test is not root.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../lib/io/csv.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { shardRuns } from "../lib/sweep/shard.ts";
import { runId } from "../lib/sweep/runid.ts";
import { task } from "./support/task.ts";

const BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo"];
const PATHS = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];

function which(bin: string): string | undefined {
  for (const dir of PATHS) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return `${dir}/${bin}`;
    } catch { /* next */ }
  }
  return undefined;
}

const missing = BINARIES.filter((b) => !which(b));
const SKIP = missing.length
  ? `slurm test skipped: ${missing.join(", ")} not installed (apt-get install slurm-wlm munge)`
  : Deno.uid() !== 0
  ? "slurm test skipped: the one-node cluster runs its daemons as root"
  : undefined;
if (SKIP) console.log(SKIP);

const SHARDS = 3;
// 9 runs (3 teachers × 3 students), a few seconds of training each group.
const PRESET = {
  archs: ["4e2a", "8e4a", "12e6a"],
  d: 16,
  epochs: 150,
  samplesPerEpoch: 8192,
  batch: 256,
  testSamples: 512,
};
const SWEEP = [
  "fig2",
  ...["--archs", PRESET.archs.join(","), "--d", String(PRESET.d)],
  ...["--epochs", String(PRESET.epochs), "--samples-per-epoch", String(PRESET.samplesPerEpoch)],
  ...["--batch", String(PRESET.batch), "--test-samples", String(PRESET.testSamples)],
];

const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two TCP ports nothing listens on (from `ss`), for slurmctld and slurmd. */
async function freePorts(): Promise<[number, number]> {
  const o = await new Deno.Command("ss", { args: ["-Htan"], stdout: "piped" }).output()
    .catch(() => ({ stdout: new Uint8Array() }));
  const used = new Set([...dec(o.stdout).matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
  const pick = () => {
    for (;;) {
      const p = 20000 + Math.floor(Math.random() * 30000);
      if (!used.has(p) && !used.has(p + 1)) return p;
    }
  };
  const p = pick();
  return [p, p + 1];
}

/** A one-node cluster under `dir` (see the slurm.conf written by start). */
class Cluster {
  env: Record<string, string>;
  constructor(readonly dir: string) {
    this.env = { SLURM_CONF: `${dir}/slurm.conf` };
  }

  async cmd(bin: string, args: string[], check = true): Promise<string> {
    const o = await new Deno.Command(which(bin) ?? bin, {
      args,
      env: this.env,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (check && o.code !== 0) throw new Error(`${bin} ${args.join(" ")}: ${dec(o.stderr).trim()}`);
    return dec(o.stdout);
  }

  /** Starts a daemon (it forks; its pipes would outlive it, so none are given). */
  async daemon(bin: string, args: string[]): Promise<void> {
    const { code } = await new Deno.Command(which(bin)!, {
      args,
      env: this.env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn().status;
    if (code !== 0) throw new Error(`${bin} ${args.join(" ")}: exit ${code} (see ${this.dir})`);
  }

  async start(): Promise<void> {
    const d = this.dir;
    await Deno.chmod(d, 0o755);
    await Deno.writeFile(`${d}/munge.key`, crypto.getRandomValues(new Uint8Array(1024)), {
      mode: 0o400,
    });
    await this.daemon("munged", [
      `--key-file=${d}/munge.key`,
      `--socket=${d}/munge.socket`,
      `--pid-file=${d}/munged.pid`,
      `--log-file=${d}/munged.log`,
      `--seed-file=${d}/munge.seed`,
    ]);
    const host = dec(
      (await new Deno.Command("hostname", { args: ["-s"], stdout: "piped" }).output()).stdout,
    ).trim();
    const cpus = dec((await new Deno.Command("nproc", { stdout: "piped" }).output()).stdout).trim();
    await Deno.mkdir(`${d}/state`);
    await Deno.mkdir(`${d}/spool`);
    const ports = await freePorts();
    const conf = [
      "ClusterName=local",
      `SlurmctldHost=${host}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      `AuthInfo=socket=${d}/munge.socket`,
      "CredType=cred/munge",
      `StateSaveLocation=${d}/state`,
      `SlurmdSpoolDir=${d}/spool`,
      `SlurmctldPidFile=${d}/slurmctld.pid`,
      `SlurmdPidFile=${d}/slurmd.pid`,
      `SlurmctldLogFile=${d}/slurmctld.log`,
      `SlurmdLogFile=${d}/slurmd.log`,
      `SlurmctldPort=${ports[0]}`,
      `SlurmdPort=${ports[1]}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "ReturnToService=2",
      "MpiDefault=none",
      "JobCompType=jobcomp/none",
      "JobAcctGatherType=jobacct_gather/none",
      `NodeName=${host} CPUs=${cpus} RealMemory=1000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${host} Default=YES State=UP`,
    ];
    await Deno.writeTextFile(`${d}/slurm.conf`, conf.join("\n") + "\n");
    await this.daemon("slurmctld", ["-f", `${d}/slurm.conf`]);
    await this.daemon("slurmd", ["-f", `${d}/slurm.conf`]);
    const end = Date.now() + 30_000;
    while ((await this.cmd("sinfo", ["-h", "-o", "%t"], false)).trim() !== "idle") {
      if (Date.now() > end) {
        throw new Error(`the node never became idle: ${await this.cmd("sinfo", [], false)}`);
      }
      await sleep(200);
    }
  }

  /** Cancels every job, then stops slurmd, slurmctld and munged by their pid files. */
  async stop(): Promise<void> {
    await this.cmd("scancel", ["-u", "root"], false).catch(() => {});
    for (const name of ["slurmd", "slurmctld", "munged"]) {
      let pid: number;
      try {
        pid = Number((await Deno.readTextFile(`${this.dir}/${name}.pid`)).trim());
      } catch {
        continue;
      }
      if (!(pid > 1)) continue;
      const alive = () => {
        try {
          Deno.kill(pid, "SIGCONT");
          return true;
        } catch {
          return false;
        }
      };
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
      for (let i = 0; i < 50 && alive(); i++) await sleep(100);
      if (alive()) Deno.kill(pid, "SIGKILL");
    }
  }

  /** `scontrol show job` fields of every job or array task of `id`. */
  async jobs(id: string): Promise<Record<string, string>[]> {
    const text = await this.cmd("scontrol", ["show", "job", "-o", id]);
    return text.trim().split("\n").filter((l) => l).map((line) =>
      Object.fromEntries(
        line.split(/\s+/).map((kv) => {
          const i = kv.indexOf("=");
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      )
    );
  }
}

const names = (dir: string) => {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
};

/** results.csv rows without the wall time (the only column that depends on timing). */
async function results(path: string) {
  return parseCsv(await Deno.readTextFile(path)).map(({ wall_s: _, ...r }) => r);
}

Deno.test({
  name: "one-node Slurm cluster: sharded array + merge job = unsharded run; requeue loses nothing",
  ignore: SKIP !== undefined,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "slurm-test-" });
    await Deno.chmod(root, 0o755); // munged wants every directory above its socket reachable
    const cluster = new Cluster(`${root}/cluster`);
    await Deno.mkdir(cluster.dir);
    try {
      await cluster.start();
      // The reference: the same sweep unsharded, in one process.
      const ref = await task("sweep", [...SWEEP, "--threads", "1", "--out", `${root}/ref`]);
      assert.equal(ref.code, 0, ref.stderr);
      const refDir = /-> (\S+)\n/.exec(ref.stderr)![1];

      const sub = await task("slurm", [
        ...SWEEP,
        "--shards",
        String(SHARDS),
        "--cpus",
        "1",
        "--out",
        `${root}/out`,
        "--submit",
      ], cluster.env);
      assert.equal(sub.code, 0, sub.stderr + sub.stdout);
      const out = / -> (\S+); jobs in (\S+)\n/.exec(sub.stdout)!;
      const [dir, jobsDir] = [out[1], out[2]];
      assert.equal(dir.slice(dir.lastIndexOf("/")), refDir.slice(refDir.lastIndexOf("/")));
      const [, array, merge] = /submitted: shard array (\d+), merge job (\d+)/.exec(sub.stdout)!;
      assert.match(
        await Deno.readTextFile(`${jobsDir}/submit.sh`),
        /--dependency=afterok:\$\{array\}/,
      );

      // A shard whose runs train as two programs (two teachers): requeue it after its first
      // program's records exist, while the second trains.
      const runs = resolvePreset("fig2", "quick", PRESET).runs;
      const target = [...Array(SHARDS).keys()].find((s) =>
        new Set(shardRuns(runs, s, SHARDS).map((r) => r.labels.teacher)).size >= 2
      )!;
      const mine = new Set(shardRuns(runs, target, SHARDS).map(runId));
      const refIds = (await results(`${refDir}/results.csv`)).map((r) => r.run_id);
      assert.deepEqual(new Set(refIds), new Set(runs.map(runId)));
      let before = new Map<string, string>();
      const end = Date.now() + 240_000;
      while (true) {
        if (Date.now() > end || names(`${dir}/runs`).length === runs.length) {
          throw new Error(`shard ${target} never had a run done and one training`);
        }
        const done = names(`${dir}/runs`).map((n) => n.slice(0, 12)).filter((id) => mine.has(id));
        const training = names(`${dir}/claims`).map((n) => n.slice(0, 12)).filter((id) =>
          mine.has(id) && !done.includes(id)
        );
        if (done.length > 0 && training.length > 0) {
          before = new Map(done.map((id) => [id, Deno.readTextFileSync(`${dir}/runs/${id}.json`)]));
          break;
        }
        await sleep(25);
      }
      await cluster.cmd("scontrol", ["requeue", `${array}_${target}`]);
      // A requeued task waits for its BeginTime (about two minutes) unless told to start now.
      let requeued = "";
      for (let i = 0; i < 100; i++) {
        requeued = (await cluster.jobs(`${array}_${target}`))[0].JobState;
        if (["RUNNING", "COMPLETED"].includes(requeued)) break;
        await cluster.cmd(
          "scontrol",
          ["update", `jobid=${array}_${target}`, "StartTime=now"],
          false,
        );
        await sleep(200);
      }
      assert.ok(["RUNNING", "COMPLETED"].includes(requeued), `requeued task: ${requeued}`);

      // Wait for the merge job.
      let state = "";
      while (Date.now() < end) {
        state = (await cluster.jobs(merge))[0].JobState;
        if (!["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].includes(state)) break;
        await sleep(500);
      }
      assert.equal(
        state,
        "COMPLETED",
        await Deno.readTextFile(`${cluster.dir}/slurmctld.log`).catch(() => ""),
      );

      // The merge ran after every array task.
      const tasks = await cluster.jobs(array);
      assert.equal(tasks.length, SHARDS);
      for (const t of tasks) assert.equal(t.JobState, "COMPLETED", JSON.stringify(t));
      const mergeJob = (await cluster.jobs(merge))[0];
      assert.match(mergeJob.Dependency ?? "", /^(\(null\)|)$/); // satisfied and cleared
      const lastEnd = Math.max(...tasks.map((t) => Date.parse(t.EndTime)));
      assert.ok(
        Date.parse(mergeJob.StartTime) >= lastEnd,
        `merge ${mergeJob.StartTime} vs ${lastEnd}`,
      );
      const mergeLog = await Deno.readTextFile(`${jobsDir}/merge-${merge}.log`);
      assert.match(mergeLog, /^merge: 9 runs in /m);

      // The merged folder equals the unsharded run: same run ids, bit-identical numbers.
      assert.deepEqual(await results(`${dir}/results.csv`), await results(`${refDir}/results.csv`));
      assert.equal(
        await Deno.readTextFile(`${dir}/curves.csv`),
        await Deno.readTextFile(`${refDir}/curves.csv`),
      );
      assert.deepEqual(await results(`${dir}/best.csv`), await results(`${refDir}/best.csv`));
      assert.equal((await results(`${dir}/best.csv`)).length, 9);
      for (const f of ["experiment.json", "heatmap.png", "curves_teacher_12e6a.png"]) {
        await Deno.stat(`${dir}/${f}`);
      }
      assert.deepEqual(names(`${dir}/claims`), []);

      // The requeue lost nothing and redid no finished run.
      const log = await Deno.readTextFile(`${jobsDir}/sweep-${array}_${target}.log`);
      const parts = log.split(/^shard \d+ on \S+, restart /m).slice(1);
      assert.equal(parts.length, 2, log);
      assert.match(parts[1], /^1\n/);
      assert.match(parts[1], new RegExp(`sweep: ${mine.size} runs, ${before.size} already done`));
      for (const [id, text] of before) {
        assert.equal(await Deno.readTextFile(`${dir}/runs/${id}.json`), text, `${id} was redone`);
        assert.ok(!parts[1].includes(`ok ${id}`), `${id} trained again`);
      }
    } finally {
      await cluster.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
