/**
 * Helpers for the static shape rules of the op tables (lib/graph/ops/*). Unknown results are
 * `undefined` (unknown rank) or `null` dims; the autodiff falls back to in-graph shape
 * arithmetic then.
 */
import type { Attr, Dim, Graph, Shape, Value } from "./builder.ts";
import type { HostTensor } from "./tensor.ts";
import type { ShapeArgs, ShapeRule } from "./ops/def.ts";
import { GraphError } from "./errors.ts";

/**
 * Numpy broadcasting of static shapes; null where it cannot be decided at build time.
 * Throws (naming `where`) when two known dims clash.
 */
export function broadcastShapes(shapes: (Shape | undefined)[], where?: string): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s!.length - rank + i;
      if (j < 0) continue;
      const e = s![j];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        if (where && typeof d === "number" && typeof e === "number") {
          throw new GraphError(
            `${where}: shape clash: cannot broadcast ${shapes.map(fmtShape).join(" with ")}`,
          );
        }
        d = null;
      }
    }
    out.push(d);
  }
  return out;
}

/** Shape rule of numpy-broadcasting ops: the broadcast of all (present) inputs. */
export const broadcastRule: ShapeRule = ({ ins, where }) => [
  broadcastShapes(ins.filter((v) => v).map((v) => v!.shape), where),
];

/** An ints attribute. */
export const ints = (a: Attr | undefined): number[] | undefined => a?.value as number[] | undefined;
/** An int attribute, or `dflt`. */
export const int = (a: Attr | undefined, dflt: number): number =>
  (a?.value as number | undefined) ?? dflt;
/** `axis` made non-negative for `rank`. */
export const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** The constant integer contents of `v`, when known at build time. */
export function constInts(g: Graph, v: Value | undefined): number[] | undefined {
  if (!v) return undefined;
  const t: HostTensor | undefined = g.constValue(v);
  return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}

/** Unknown dims of the rank given by a 1-D shape tensor's static length. */
export function nullDims(shapeOfTarget: Shape | undefined): Dim[] | undefined {
  const n = shapeOfTarget?.length === 1 ? shapeOfTarget[0] : undefined;
  return typeof n === "number" ? Array(n).fill(null) : undefined;
}

/** `[2, ?, 4]`; `[?]` when the rank is unknown. */
export const fmtShape = (s: Shape | undefined): string =>
  s ? `[${s.map((d) => d ?? "?").join(", ")}]` : "[?]";

/** Throws a shape clash when two known dims differ. */
export function clash(where: string, a: Dim | undefined, b: Dim | undefined, what: string): void {
  if (typeof a === "number" && typeof b === "number" && a !== b) {
    throw new GraphError(`${where}: shape clash: ${what} (${a} vs ${b})`);
  }
}

export type { ShapeArgs };
