// Writes examples/device.schema.json from the valibot config schema, so editors can check configs.
import { toJsonSchema } from "@valibot/to-json-schema";
import { writeFileSync } from "node:fs";
import { ConfigSchema } from "../src/config/schema.ts";

const schema = toJsonSchema(ConfigSchema, { errorMode: "ignore" });
const out = new URL("../examples/device.schema.json", import.meta.url);
writeFileSync(out, `${JSON.stringify({ ...schema, title: "realer-edge device config" }, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
