import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CatalogRoute } from "../cloud/catalog.ts";
import { parseRoute, type RouteConfig } from "../config/schema.ts";
import { bindRoutes } from "./bindings.ts";

const route = (topic: string, extra: Partial<CatalogRoute> = {}): CatalogRoute => ({
  source_type: "sensor",
  mqtt: { feed_data_topic: topic },
  ...extra,
});
const line = (offset: number): RouteConfig => parseRoute({ pin_port: String(offset), line: { chip: "gpiochip0", offset } });

describe("bindRoutes()", () => {
  it("binds by source_id, by pin_port, and by topic when a route has nothing else", () => {
    const routes = [route("t/a", { source_id: "sen_a" }), route("t/b", { pin_port: "5" }), route("t/c")];
    const { bindings, unbound, unused } = bindRoutes(routes, [
      { ...line(1), pin_port: undefined, source_id: "sen_a" } as RouteConfig,
      line(5),
      { ...line(7), pin_port: undefined, feed_data_topic: "t/c" } as RouteConfig,
    ]);
    assert.deepEqual(bindings.map((binding) => [binding.key, binding.name]), [["t/a", "sen_a"], ["t/b", "pin_port 5"], ["t/c", "t/c"]]);
    assert.deepEqual([unbound.length, unused.length], [0, 0]);
  });

  it("reports catalog routes without a line and config entries without a route", () => {
    const { bindings, unbound, unused } = bindRoutes([route("t/a", { pin_port: "1" }), route("t/b", { pin_port: "2" })], [
      line(1),
      line(9),
    ]);
    assert.equal(bindings.length, 1);
    assert.deepEqual(unbound.map((r) => r.mqtt.feed_data_topic), ["t/b"]);
    assert.deepEqual(unused.map((c) => c.pin_port), ["9"]);
  });

  it("refuses two config entries for one route, naming both", () => {
    const routes = [route("t/a", { source_id: "sen_a", pin_port: "1" })];
    assert.throws(() => bindRoutes(routes, [line(1), { ...line(2), pin_port: undefined, source_id: "sen_a" } as RouteConfig]), {
      message: /pin_port 1 and source_id sen_a|source_id sen_a and pin_port 1/,
    });
  });

  it("refuses a pin_port that several routes share", () => {
    assert.throws(() => bindRoutes([route("t/a", { pin_port: "1" }), route("t/b", { pin_port: "1" })], [line(1)]), {
      message: /matches 2 catalog routes/,
    });
  });
});
