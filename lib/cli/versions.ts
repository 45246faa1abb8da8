/** Versions stored with every run record, so a result says what produced it. */
import * as ort from "onnxruntime-node";
import { TOOLKIT_VERSION } from "../version.ts";

export function versions(): Record<string, string> {
  return {
    "moe-onnx": TOOLKIT_VERSION,
    deno: Deno.version.deno,
    "onnxruntime-node": ort.env.versions.node ?? "unknown",
  };
}
