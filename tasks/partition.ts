/**
 * `deno task partition [flags]`: pictures of router partitions, each region (active expert set)
 * one colour (see lib/theory/partition.ts). Two modes:
 * - synthetic: Gaussian routers r_j ~ N(0, I_d) for each --archs entry (same seed, so equal m
 *   means the same routing vectors), on R^2 or on a random 2-D slice of R^d;
 * - --from DIR --run ID: the teacher and the trained student of a sweep run (saved with
 *   `deno task sweep --save-models`), on one random 2-D slice of their input space.
 */
import { intFlag, listFlag, parseFlags, runMain, UsageError } from "../lib/cli/args.ts";
import { parseShorthand } from "../lib/nn/config.ts";
import { savePng, sideBySidePng } from "../lib/plot/mod.ts";
import { foldIn, key } from "../lib/random/prng.ts";
import { partitionMap, partitionPanel, type Slice } from "../lib/theory/partition.ts";
import { gaussianRouter, orthonormalDirections } from "../lib/theory/routers.ts";
import { type RoutedModel, runRouters } from "../lib/theory/run_routers.ts";
import { MAX_EXPERTS } from "../lib/theory/subsets.ts";

const HELP = `usage: deno task partition [flags]
       deno task partition --from out/fig2 --run RUN_ID [flags]

Colours every point of a square window by its active expert set (top-k of the router scores).

  --archs LIST       routers to draw side by side, as <m>e<k>a (default 8e1a,8e4a); routers
                     r_j ~ N(0, I_d) from --seed, identical for equal m
  --d N              input dimension (default 2); for d > 2 the window lies in a random plane
  --from DIR --run ID  teacher vs trained student of sweep run ID in DIR (needs DIR/models/ID.onnx,
                     written by 'deno task sweep --save-models')
  --seed N           routers and slice plane (default 0)
  --size N           pixels per side (default 400)
  --range R          window [-R, R]^2 (default 3)
  --center-norm C    centre the window at a random point of norm C orthogonal to the plane
                     (default 0: through the origin; needs d >= 3)
  --edges            outline the regions
  --out DIR          output directory (default out/partition)`;

/** What the partition CLI draws. */
export interface PartitionArgs {
  archs: { m: number; k: number; name: string }[];
  d: number;
  from?: { dir: string; run: string };
  seed: number;
  size: number;
  range: number;
  centerNorm: number;
  edges: boolean;
  out: string;
}

/** A number flag: > 0 when `strict`, else >= 0. */
function numberFlag(name: string, v: string | undefined, dflt: number, strict: boolean): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < 0 || (strict && x === 0)) {
    throw new UsageError(`--${name}: must be a number ${strict ? ">" : ">="} 0, got '${v}'`);
  }
  return x;
}

/** Parses the partition flags; `null` means --help. Bad input throws a one-line UsageError. */
export function parsePartitionArgs(args: string[]): PartitionArgs | null {
  const v = parseFlags(args, [
    "archs",
    "d",
    "from",
    "run",
    "seed",
    "size",
    "range",
    "center-norm",
    "out",
  ], ["edges"]);
  if (v === null) return null;
  if ((v.from === undefined) !== (v.run === undefined)) {
    throw new UsageError("--from and --run: give both (a sweep directory and one of its run ids)");
  }
  if (v.from !== undefined && (v.archs !== undefined || v.d !== undefined)) {
    throw new UsageError("--archs/--d: not with --from (the run fixes the models and d)");
  }
  const archs = (listFlag("archs", v.archs, String, "<m>e<k>a shorthands") ?? ["8e1a", "8e4a"])
    .map((name) => {
      let mk: { m: number; k: number };
      try {
        mk = parseShorthand(name);
      } catch (e) {
        throw new UsageError(`--archs: ${(e as Error).message}`);
      }
      if (mk.m > MAX_EXPERTS) {
        throw new UsageError(`--archs: at most ${MAX_EXPERTS} experts, got '${name}'`);
      }
      return { ...mk, name };
    });
  const size = intFlag("size", v.size, 1) ?? 400;
  if (size > 2048) throw new UsageError(`--size: must be an integer in 1..2048, got '${v.size}'`);
  const d = intFlag("d", v.d, 2) ?? 2;
  const centerNorm = numberFlag("center-norm", v["center-norm"], 0, false);
  if (centerNorm > 0 && v.from === undefined && d < 3) {
    throw new UsageError("--center-norm: needs --d >= 3 (a centre orthogonal to the plane)");
  }
  return {
    archs,
    d,
    from: v.from !== undefined
      ? { dir: v.from.replace(/\/+$/, "") || "/", run: v.run! }
      : undefined,
    seed: intFlag("seed", v.seed, 0) ?? 0,
    size,
    range: numberFlag("range", v.range, 3, true),
    centerNorm,
    edges: v.edges ?? false,
    out: (v.out ?? "out/partition").replace(/\/+$/, "") || "/",
  };
}

/** The window: the standard plane for d = 2, else a random plane (and centre) from `seed`. */
export function makeSlice(
  d: number,
  seed: number,
  size: number,
  range: number,
  centerNorm: number,
): Slice {
  if (d === 2) {
    const [e1, e2] = orthonormalDirections(key(seed), 2, 2, true);
    return { d, e1, e2, range, size };
  }
  const dirs = orthonormalDirections(foldIn(key(seed), "slice"), d, 3);
  const center = centerNorm > 0 ? dirs[2].map((x) => x * centerNorm) : undefined;
  return { d, e1: dirs[0], e2: dirs[1], center, range, size };
}

async function main(): Promise<number> {
  const a = parsePartitionArgs(Deno.args);
  if (!a) {
    console.log(HELP);
    return 0;
  }
  let models: RoutedModel[];
  let d: number;
  let title: string;
  let path: string;
  if (a.from) {
    const r = await runRouters(a.from.dir, a.from.run);
    models = [r.teacher, r.student];
    d = r.config.input.d;
    title = `${r.config.experiment} run ${a.from.run}: ` +
      (d === 2 ? "input plane" : `random 2-D slice of R^${d} (seed ${a.seed})`) +
      (a.centerNorm > 0 ? ` centred at norm ${a.centerNorm}` : "");
    path = `${a.out}/partition_${r.config.experiment}_${a.from.run}` +
      `${a.centerNorm > 0 ? `_c${a.centerNorm}` : ""}.png`;
  } else {
    d = a.d;
    const root = foldIn(key(a.seed), "routers");
    models = a.archs.map((x) => ({
      label: x.name,
      router: gaussianRouter(root, d, x.m),
      k: x.k,
    }));
    title = `Top-k regions of Gaussian routers r_j ~ N(0, I_${d}), seed ${a.seed}` +
      (d === 2 ? "" : `, random 2-D slice`) +
      (a.centerNorm > 0 ? ` centred at norm ${a.centerNorm}` : "");
    path = `${a.out}/partition_d${d}_${a.archs.map((x) => x.name).join("_")}_seed${a.seed}` +
      `${a.centerNorm > 0 ? `_c${a.centerNorm}` : ""}.png`;
  }
  if (a.centerNorm > 0 && d < 3) {
    throw new UsageError("--center-norm: needs d >= 3 (a centre orthogonal to the plane)");
  }
  const slice = makeSlice(d, a.seed, a.size, a.range, a.centerNorm);
  const panels = [];
  for (const m of models) {
    const map = await partitionMap(m.router, m.k, slice);
    panels.push(partitionPanel(map, m.label, a.edges));
    console.log(`${m.label}: ${map.sets.length} distinct expert sets in the window`);
  }
  await savePng(path, sideBySidePng(panels, { title }));
  console.error(path);
  return 0;
}

if (import.meta.main) await runMain("partition", main);
