import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PublishRate } from "./publish-rate.ts";

describe("PublishRate", () => {
  it("lets a second's worth go at once, then one per 1/rate", () => {
    const rate = new PublishRate(10);
    assert.equal(rate.available(1000, 10), 10);
    rate.spend(10);
    assert.equal(rate.available(1000, 10), 0);
    assert.equal(rate.msToNext(10), 100);
    assert.equal(rate.available(1050, 10), 0, "half a token is not a publish");
    assert.equal(rate.msToNext(10), 50);
    assert.equal(rate.available(1100, 10), 1);
  });

  it("never holds more than a second's worth, however long it waited", () => {
    const rate = new PublishRate(5);
    rate.spend(5);
    assert.equal(rate.available(60_000, 5), 5);
  });

  it("follows a rate the catalog changed", () => {
    const rate = new PublishRate(10);
    rate.available(0, 10);
    rate.spend(10);
    assert.equal(rate.available(100, 100), 10, "100 ms at 100 a second");
  });
});
