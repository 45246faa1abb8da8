/** Errors of the autodiff. */
import { GraphError } from "../graph/errors.ts";

/** A gradient that cannot be built (no rule, unsupported case, wrong rule output); names the node. */
export class GradError extends GraphError {
  /** "GradError". */
  override name = "GradError";
}
