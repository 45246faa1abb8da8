/** A structural mistake found while building a graph; the message names the node. */
export class GraphError extends Error {
  /** "GraphError". */
  override name = "GraphError";
}
