/** A structural mistake found while building a graph; the message names the node. */
export class GraphError extends Error {
  /** Shown in messages and used by the CLI to tell bugs from bad input. */
  override name = "GraphError";
}
