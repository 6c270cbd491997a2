import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError, RealerError } from "../errors.ts";
import { decideRetry } from "./retry-policy.ts";

const settings = { baseMs: 1000, capMs: 60_000, slowMs: 300_000 };
const http = (status: number, code?: number, retryAfter?: number) =>
  new HttpError({ method: "GET", url: "https://x/iot/v1/devices/1/mqtt", status, code, reason: "r", retryAfter });
const top = () => 1; // the top of the jitter range, to see the ceiling

describe("decideRetry()", () => {
  it("never retries 4000, 4013 or 4022 unchanged", () => {
    for (const code of [4000, 4013, 4022]) assert.equal(decideRetry(http(400, code), 0, settings).retry, false);
  });

  it("stops on 4003 and 4004", () => {
    assert.equal(decideRetry(http(403, 4003), 0, settings).retry, false);
    assert.equal(decideRetry(http(404, 4004), 0, settings).retry, false);
  });

  it("waits at least the slow floor on 4002", () => {
    assert.deepEqual(decideRetry(http(403, 4002), 0, settings, top), { retry: true, delayMs: 300_000, slow: true });
  });

  it("honours Retry-After on 429 / 4029", () => {
    assert.equal((decideRetry(http(429, 4029, 7), 0, settings, () => 0) as { delayMs: number }).delayMs, 7000);
  });

  it("backs off exponentially with full jitter, capped, on 5xx and network errors", () => {
    assert.equal((decideRetry(http(503), 3, settings, top) as { delayMs: number }).delayMs, 8000);
    assert.equal((decideRetry(new RealerError("network", "down"), 20, settings, top) as { delayMs: number }).delayMs, 60_000);
    assert.equal((decideRetry(new RealerError("network", "down"), 3, settings, () => 0.5) as { delayMs: number }).delayMs, 4000);
  });
});
