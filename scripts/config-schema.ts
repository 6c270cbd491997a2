// Writes the JSON Schemas of the device config (examples/device.schema.json) and of a HIL
// scenario (examples/scenario.schema.json) from their valibot schemas, so editors can check them.
import { toJsonSchema } from "@valibot/to-json-schema";
import { writeFileSync } from "node:fs";
import { ConfigSchema } from "../src/config/schema.ts";
import { ScenarioSchema } from "../src/hil/scenario.ts";

for (
  const [schema, path, title] of [
    [ConfigSchema, "../examples/device.schema.json", "realer-edge device config"],
    [ScenarioSchema, "../examples/scenario.schema.json", "realer-edge hil scenario"],
  ] as const
) {
  const out = new URL(path, import.meta.url);
  writeFileSync(out, `${JSON.stringify({ ...toJsonSchema(schema, { errorMode: "ignore" }), title }, null, 2)}\n`);
  console.log(`wrote ${out.pathname}`);
}
