import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serial } from "./serial.ts";

describe("serial()", () => {
  it("runs tasks one at a time, in the order given, even when an earlier one takes longer", async () => {
    const run = serial();
    const log: string[] = [];
    const slow = run(async () => {
      log.push("slow start");
      await new Promise((resolve) => setTimeout(resolve, 20));
      log.push("slow end");
      return "slow";
    });
    const fast = run(() => {
      log.push("fast");
      return "fast";
    });
    assert.deepEqual(await Promise.all([slow, fast]), ["slow", "fast"]);
    assert.deepEqual(log, ["slow start", "slow end", "fast"]);
  });

  it("goes on after a task that throws, and gives the error to that task's caller only", async () => {
    const run = serial();
    const failed = run(() => Promise.reject(new Error("the line failed")));
    const next = run(() => 7);
    await assert.rejects(failed, /the line failed/);
    assert.equal(await next, 7);
  });

  it("keeps two queues apart", async () => {
    const a = serial();
    const b = serial();
    let release: () => void = () => {};
    const blocked = a(() => new Promise<void>((resolve) => (release = resolve)));
    assert.equal(await b(() => "b runs while a waits"), "b runs while a waits");
    release();
    await blocked;
  });
});
