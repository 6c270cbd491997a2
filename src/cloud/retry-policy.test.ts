import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError, RealerError } from "../errors.ts";
import { decideRetry } from "./retry-policy.ts";

const settings = { baseMs: 1000, capMs: 60_000, slowMs: 300_000 };
const http = (status: number, code?: number, retryAfter?: number, url = "https://x/iot/v1/devices/1/mqtt") =>
  new HttpError({ method: "GET", url, status, code, reason: "r", retryAfter });
const top = () => 1; // the top of the jitter range, to see the ceiling
const bottom = () => 0;

describe("decideRetry()", () => {
  it("never repeats 4000, 4013 or 4022 at once, only at the slow cadence", () => {
    for (const code of [4000, 4013, 4022]) {
      const decision = decideRetry(http(400, code), 0, settings, bottom);
      assert.equal(decision.class, "refused");
      assert.equal(decision.delayMs, 300_000);
    }
  });

  it("answers 4003 and 4004 with the slow cadence too: nothing the cloud says stops a link", () => {
    assert.deepEqual(
      [decideRetry(http(403, 4003), 0, settings, bottom).delayMs, decideRetry(http(404, 4004), 0, settings, bottom).delayMs],
      [300_000, 300_000],
    );
  });

  it("waits at least the slow floor on 4002", () => {
    assert.deepEqual(decideRetry(http(403, 4002), 0, settings, top), {
      delayMs: 300_000,
      class: "slow",
      reason: "the subscription is inactive (4002)",
    });
  });

  it("honours Retry-After on 429 / 4029", () => {
    assert.equal(decideRetry(http(429, 4029, 7), 0, settings, bottom).delayMs, 7000);
  });

  it("backs off exponentially with full jitter, capped, on 5xx and network errors", () => {
    assert.equal(decideRetry(http(503), 3, settings, top).delayMs, 8000);
    assert.equal(decideRetry(new RealerError("network", "down"), 20, settings, top).delayMs, 60_000);
    assert.equal(decideRetry(new RealerError("network", "down"), 3, settings, () => 0.5).delayMs, 4000);
  });

  it("treats an answer it could not read (a captive portal's page) as transient", () => {
    const decision = decideRetry(new RealerError("protocol", "Cannot use the answer of GET …: it is not JSON"), 0, settings, top);
    assert.deepEqual([decision.class, decision.delayMs], ["transient", 1000]);
  });

  it("backs a refused client off to minutes, never less than 30 s, capped at the slow floor", () => {
    const refused = http(401, undefined, undefined, "https://x/oauth/token");
    assert.equal(decideRetry(refused, 0, settings, bottom).class, "auth");
    assert.equal(decideRetry(refused, 0, settings, bottom).delayMs, 30_000);
    assert.equal(decideRetry(refused, 10, settings, top).delayMs, 300_000);
  });
});
