/**
 * `deno task slurm`: the job scripts it writes (run here with bash, as Slurm would run them,
 * one array task after the other), the Kubernetes manifests, and its one-line errors. The real
 * scheduler is exercised by tests/slurm_test.ts.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../lib/io/csv.ts";
import { shellQuote } from "../lib/sweep/slurm.ts";
import { task } from "./support/task.ts";
import { TINY_FIG2_ARGS } from "./support/fixtures.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const TINY = [...TINY_FIG2_ARGS, "--epochs", "1"];

Deno.test("deno task slurm: the array and merge scripts complete the folder when run", async () => {
  const root = await Deno.makeTempDir({ prefix: "slurm-jobs-" });
  try {
    const r = await task("slurm", [
      ...TINY,
      ...["--shards", "3", "--time", "0:30:00", "--mem", "2G", "--partition", "cpu"],
      ...["--out", root],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = /^fig2: configuration ([0-9a-f]{8}): 3 shards -> (\S+); jobs in (\S+)\n/.exec(
      r.stdout,
    )!;
    assert.ok(m, r.stdout);
    const [, id, dir, jobs] = m;
    assert.equal(dir, `${root}/fig2-${id}`);
    assert.match(r.stdout, new RegExp(`submit with: bash ${jobs}/submit.sh`));
    const sweep = await Deno.readTextFile(`${jobs}/sweep.sbatch`);
    for (
      const line of [
        "#SBATCH --array=0-2",
        "#SBATCH --requeue",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=2G",
        "#SBATCH --time=0:30:00",
        "#SBATCH --partition=cpu",
        `#SBATCH --output=${jobs}/sweep-%A_%a.log`,
      ]
    ) assert.ok(sweep.split("\n").includes(line), `${line} in\n${sweep}`);
    assert.match(
      sweep,
      /tasks\/sweep\.ts fig2 --archs 4e2a,8e4a .* --threads 1 --out \S+ --shard "\$\{SLURM_ARRAY_TASK_ID\}\/3"\n$/,
    );
    const submit = await Deno.readTextFile(`${jobs}/submit.sh`);
    assert.match(submit, /sbatch --parsable --dependency=afterok:\$\{array\} \S+merge\.sbatch/);

    // What Slurm would do: every array task, then the merge job.
    for (const i of [0, 1, 2]) {
      const o = await new Deno.Command("bash", {
        args: [`${jobs}/sweep.sbatch`],
        env: { SLURM_ARRAY_TASK_ID: String(i) },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(o.code, 0, dec(o.stderr));
      assert.match(dec(o.stderr), new RegExp(`shard ${i}/3: \\d of 4 runs -> ${dir}`));
    }
    const mg = await new Deno.Command("bash", { args: [`${jobs}/merge.sbatch`], stderr: "piped" })
      .output();
    assert.equal(mg.code, 0, dec(mg.stderr));
    assert.match(dec(mg.stderr), /^merge: 4 runs in /);
    assert.equal(parseCsv(await Deno.readTextFile(`${dir}/results.csv`)).length, 4);
    for (const f of ["experiment.json", "best.csv", "curves.csv", "heatmap.png"]) {
      await Deno.stat(`${dir}/${f}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task slurm --k8s: an Indexed Job (completion index = shard) and a merge Job", async () => {
  const root = await Deno.makeTempDir({ prefix: "slurm-k8s-" });
  try {
    const r = await task("slurm", [
      ...TINY,
      ...["--shards", "4", "--cpus", "2", "--mem", "4G"],
      ...["--k8s", "--image", "reg/moe:1", "--claim", "pvc1", "--out", root],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const jobs = /kubectl apply -f (\S+)\/sweep-job\.json && kubectl wait/.exec(r.stdout)![1];
    const job = JSON.parse(await Deno.readTextFile(`${jobs}/sweep-job.json`));
    assert.equal(job.kind, "Job");
    assert.deepEqual([job.spec.completionMode, job.spec.completions, job.spec.parallelism], [
      "Indexed",
      4,
      4,
    ]);
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.image, "reg/moe:1");
    assert.deepEqual(c.resources.requests, { cpu: "2", memory: "4Gi" });
    assert.match(
      c.command[2],
      /^exec deno task sweep fig2 .* --threads 2 --out \S+ --shard "\$JOB_COMPLETION_INDEX\/4"$/,
    );
    assert.equal(pod.volumes[0].persistentVolumeClaim.claimName, "pvc1");
    assert.equal(c.volumeMounts[0].mountPath, root);
    const merge = JSON.parse(await Deno.readTextFile(`${jobs}/merge-job.json`));
    assert.match(
      merge.spec.template.spec.containers[0].command[2],
      /^exec deno task merge \S+\/fig2-[0-9a-f]{8}$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task slurm: one-line errors before anything is written", async () => {
  const root = await Deno.makeTempDir({ prefix: "slurm-bad-" });
  try {
    const cases: [string[], RegExp][] = [
      [[...TINY, "--out", root], /^slurm: --shards: must be a positive integer, got undefined$/],
      [
        [...TINY, "--shards", "0", "--out", root],
        /^slurm: --shards: must be a positive integer, got "0"$/,
      ],
      [
        [...TINY, "--shards", "2", "--shard", "0/2", "--out", root],
        /^slurm: --shard: set by the jobs/,
      ],
      [
        [...TINY, "--shards", "2", "--mem", "lots", "--out", root],
        /^slurm: --mem: must be like 4000/,
      ],
      [
        ["fig2", "--epochs", "x", "--shards", "2", "--out", root],
        /^slurm: --epochs: must be a positive integer, got 'x'$/,
      ],
      [["fig9", "--shards", "2", "--out", root], /^slurm: experiment: unknown experiment 'fig9'/],
    ];
    for (const [args, want] of cases) {
      const r = await task("slurm", args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr.trim(), want);
    }
    assert.deepEqual([...Deno.readDirSync(root)], []);
    assert.equal(shellQuote("a b'c"), `'a b'\\''c'`);
    assert.equal(shellQuote("4e2a,8e4a"), "4e2a,8e4a");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
