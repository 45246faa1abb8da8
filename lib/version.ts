/** The toolkit version, declared once: deno.json's "version". */
import denoJson from "../deno.json" with { type: "json" };

/** The toolkit version (deno.json "version"): ONNX producer_version, exports and run records. */
export const TOOLKIT_VERSION: string = denoJson.version;
