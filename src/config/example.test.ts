import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { toJsonSchema } from "@valibot/to-json-schema";
import { loadConfig } from "./load.ts";
import { ConfigSchema } from "./schema.ts";

const examples = new URL("../../examples/", import.meta.url);

describe("examples/device.json", () => {
  it("is a valid config", () => {
    const config = loadConfig(new URL("device.json", examples).pathname);
    assert.equal(config.routes.length, 2);
  });

  it("points at a JSON Schema that matches the code (regenerate with npm run schema)", () => {
    const committed = JSON.parse(readFileSync(new URL("device.schema.json", examples), "utf8"));
    const current = { ...toJsonSchema(ConfigSchema, { errorMode: "ignore" }), title: "realer-edge device config" };
    assert.deepEqual(committed, JSON.parse(JSON.stringify(current)));
  });
});
