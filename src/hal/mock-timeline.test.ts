import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LevelHistory, MockTimeline } from "./mock-timeline.ts";

describe("MockTimeline", () => {
  it("keeps the newest entries past its capacity, numbered without gaps, and reads from any seq", () => {
    const timeline = new MockTimeline(4, ["gpiochip0", "gpiochip1"]);
    for (let i = 1; i <= 10; i++) timeline.append(i % 2, i, (i % 2) as 0 | 1, i === 9, 1000 + i);
    const all = timeline.since();
    assert.deepEqual(all.map((change) => change.seq), [7, 8, 9, 10]);
    assert.deepEqual(all[2], { seq: 9, at: 1009, chip: "gpiochip1", offset: 9, level: 1, claimed: true });
    assert.deepEqual(all[1], { seq: 8, at: 1008, chip: "gpiochip0", offset: 8, level: 0 });
    assert.deepEqual(timeline.since(8).map((change) => change.seq), [9, 10]);
    assert.deepEqual(timeline.since(2).map((change) => change.seq), [7, 8, 9, 10], "what went is skipped, not invented");
    assert.deepEqual(timeline.since(10), []);
  });

  it("is empty until something happens", () => {
    assert.deepEqual(new MockTimeline(3, ["gpiochip0"]).since(), []);
  });
});

describe("LevelHistory", () => {
  it("starts at its first level and keeps the newest past its capacity", () => {
    const history = new LevelHistory(3, 0);
    assert.deepEqual(history.levels(), [0]);
    history.push(1);
    assert.equal(history.last, 1);
    history.push(0);
    history.push(1);
    history.push(1);
    assert.deepEqual(history.levels(), [0, 1, 1]);
    assert.equal(history.last, 1);
  });
});
