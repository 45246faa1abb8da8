/**
 * Cluster job descriptions of a sharded sweep (pure text generation; tasks/slurm.ts writes and
 * submits them):
 * - Slurm: an sbatch job array, one task per shard (`--shard $SLURM_ARRAY_TASK_ID/N`), all
 *   writing into one output folder, `--requeue` (a requeued or preempted task reruns its shard
 *   and skips the runs already recorded; its claims carry the same task tag and are taken back
 *   at once), plus a merge-and-plot job submitted with `--dependency=afterok:<array>`.
 * - Kubernetes: an Indexed Job (the completion index picks the shard) and a merge Job to apply
 *   when it completes, as JSON manifests (JSON is YAML: `kubectl apply -f` takes them).
 */

/** What a cluster job description needs. */
export interface ClusterSpec {
  /** Job name prefix, e.g. "fig2-1a2b3c4d". */
  name: string;
  /** Number of shards (array tasks / completions). */
  shards: number;
  /** The command that runs one shard, before `--shard i/N` (argv, first the program). */
  sweep: string[];
  /** The command that completes the folder after all shards (merge in place, figures). */
  merge: string[];
  /** Working directory of every job (the repository). */
  workdir: string;
  /** Where job logs go (Slurm). */
  logDir: string;
  /** CPUs per shard. */
  cpus: number;
  /** Memory per shard (Slurm syntax, e.g. "4G"); optional. */
  mem?: string;
  /** Time limit per shard (Slurm syntax, e.g. "2:00:00"); optional. */
  time?: string;
  partition?: string;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

const quoteAll = (argv: string[]) => argv.map(shellQuote).join(" ");

function header(spec: ClusterSpec, what: string, extra: string[]): string[] {
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=${spec.name}-${what}`,
    ...extra,
    ...(spec.partition ? [`#SBATCH --partition=${spec.partition}`] : []),
    ...(spec.time ? [`#SBATCH --time=${spec.time}`] : []),
  ];
}

/** The sbatch script of the shard array. */
export function sweepSbatch(spec: ClusterSpec): string {
  return [
    ...header(spec, "sweep", [
      `#SBATCH --array=0-${spec.shards - 1}`,
      `#SBATCH --cpus-per-task=${spec.cpus}`,
      ...(spec.mem ? [`#SBATCH --mem=${spec.mem}`] : []),
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      `#SBATCH --output=${spec.logDir}/sweep-%A_%a.log`,
    ]),
    "# One shard per array task, all into one output folder. A requeued task reruns its shard:",
    "# finished runs are skipped (their records exist), its unfinished claims are taken back.",
    "set -euo pipefail",
    `cd ${shellQuote(spec.workdir)}`,
    'echo "shard ${SLURM_ARRAY_TASK_ID} on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"',
    `exec ${quoteAll(spec.sweep)} --shard "\${SLURM_ARRAY_TASK_ID}/${spec.shards}"`,
    "",
  ].join("\n");
}

/** The sbatch script of the merge-and-plot job (submitted with an afterok dependency). */
export function mergeSbatch(spec: ClusterSpec): string {
  return [
    ...header(spec, "merge", [
      "#SBATCH --cpus-per-task=1",
      `#SBATCH --output=${spec.logDir}/merge-%j.log`,
    ]),
    "# Runs after every shard succeeded: rebuilds the CSVs, experiment.json and every figure.",
    "set -euo pipefail",
    `cd ${shellQuote(spec.workdir)}`,
    `exec ${quoteAll(spec.merge)}`,
    "",
  ].join("\n");
}

/** The shell script that submits the array, then the merge job depending on it. */
export function submitScript(sweepPath: string, mergePath: string): string {
  return [
    "#!/bin/bash",
    "# Submits the shard array, then the merge job once every array task has succeeded.",
    "set -euo pipefail",
    `array=$(sbatch --parsable ${shellQuote(sweepPath)})`,
    "array=${array%%;*}",
    `merge=$(sbatch --parsable --dependency=afterok:\${array} ${shellQuote(mergePath)})`,
    'echo "submitted: shard array ${array}, merge job ${merge%%;*}"',
    "",
  ].join("\n");
}

/** Options of the Kubernetes manifests. */
export interface K8sOptions {
  image: string;
  /** PersistentVolumeClaim holding the output root (shared by every pod). */
  claim: string;
  /** Where the claim is mounted: the sweep's --out root. */
  outRoot: string;
}

/** A Kubernetes object name: lowercase letters, digits and '-'. */
function k8sName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
}

function podSpec(spec: ClusterSpec, k: K8sOptions, command: string, cpus: number) {
  const requests: Record<string, string> = { cpu: String(cpus) };
  if (spec.mem) requests.memory = spec.mem.replace(/([KMGT])$/, "$1i");
  return {
    restartPolicy: "OnFailure",
    containers: [{
      name: "sweep",
      image: k.image,
      workingDir: spec.workdir,
      command: ["sh", "-c", command],
      resources: { requests },
      volumeMounts: [{ name: "out", mountPath: k.outRoot }],
    }],
    volumes: [{ name: "out", persistentVolumeClaim: { claimName: k.claim } }],
  };
}

/**
 * The Indexed Job of the shards (JOB_COMPLETION_INDEX picks the shard; a restarted pod reruns
 * its shard like a requeued Slurm task) and the merge Job, as Kubernetes objects.
 */
export function k8sManifests(spec: ClusterSpec, k: K8sOptions): { sweep: unknown; merge: unknown } {
  const shardCmd = `exec ${quoteAll(spec.sweep)} --shard "$JOB_COMPLETION_INDEX/${spec.shards}"`;
  const sweep = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: k8sName(`${spec.name}-sweep`) },
    spec: {
      completionMode: "Indexed",
      completions: spec.shards,
      parallelism: spec.shards,
      backoffLimit: 3 * spec.shards,
      template: { spec: podSpec(spec, k, shardCmd, spec.cpus) },
    },
  };
  const merge = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: k8sName(`${spec.name}-merge`) },
    spec: {
      backoffLimit: 2,
      template: { spec: podSpec(spec, k, `exec ${quoteAll(spec.merge)}`, 1) },
    },
  };
  return { sweep, merge };
}
