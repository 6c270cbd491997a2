import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeConformance } from "./describe-conformance.ts";
import { ManualClock } from "../manual-clock.ts";
import { MockBackend } from "./mock.ts";
import { mockControlApp } from "./mock-control.ts";

let current = new MockBackend();
describeConformance({
  name: "mock",
  open: () => {
    current = new MockBackend();
    return Promise.resolve(current);
  },
  pull: (ref, level) => Promise.resolve(current.setPull(ref, level)),
  level: (ref) => Promise.resolve(current.getLevel(ref)),
  lines: [{ chip: "gpiochip0", offset: 6 }, { chip: "gpiochip0", offset: 5 }],
  missingChip: "gpiochip9",
  bias: true,
  named: { name: "GPIO7", offset: 7 },
});

describe("MockBackend", () => {
  it("debounces on the clock it is given: a bounce inside the period reports nothing until that clock moves past it", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const mock = new MockBackend(undefined, { clock });
    const ref = { chip: "gpiochip0", offset: 5 };
    await using input = await mock.requestLine(ref, { direction: "input", edge: "both", debounceMs: 40 }, "t");
    const edges: { value: number; observedAt: number }[] = [];
    input.onEdge((edge) => edges.push({ value: edge.value, observedAt: edge.observedAt }));
    mock.setPull(ref, 1);
    await clock.advance(10);
    mock.setPull(ref, 0);
    await clock.advance(10);
    mock.setPull(ref, 1);
    await clock.advance(39);
    assert.deepEqual(edges, [], "still bouncing");
    await clock.advance(1);
    assert.deepEqual(edges, [{ value: 1, observedAt: Date.UTC(2026, 11, 1) + 60 }], "one edge, stamped by the same clock");
  });

  it("finds lines by name and by chip label", async () => {
    const mock = new MockBackend([{ name: "gpiochip0", label: "pinctrl-bcm2711", lines: 4, names: ["ID_SD", "RELAY1"] }]);
    await using byName = await mock.requestLine({ name: "RELAY1" }, { direction: "output", outputValue: 1 }, "t");
    assert.equal(byName.offset, 1);
    assert.equal(mock.getLevel({ chip: "pinctrl-bcm2711", offset: 1 }), 1);
  });

  it("lets a rig drive inputs and read lines through the control interface", async () => {
    const mock = new MockBackend();
    const app = mockControlApp(mock);
    await using input = await mock.requestLine({ chip: "gpiochip0", offset: 5 }, { direction: "input" }, "rig");
    const put = await app.request("/lines/gpiochip0/5", {
      method: "PUT",
      body: JSON.stringify({ level: 1 }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(put.status, 200);
    assert.equal(await input.getValue(), 1);
    assert.deepEqual(await put.json().then((b) => [(b as { changed: boolean }).changed, (b as { watched: boolean }).watched]), [
      true,
      false,
    ], "an input without edge detection is not watched");
    const bad = await app.request("/lines/gpiochip0/5", { method: "PUT", body: JSON.stringify({ level: 2 }) });
    assert.equal(bad.status, 400);
    const list = (await (await app.request("/lines")).json()) as { lines: { offset: number; consumer: string }[] };
    assert.equal(list.lines.find((line) => line.offset === 5)?.consumer, "rig");
  });

  it("keeps the last 10,000 levels of a line and the last 50,000 changes, so a rig that runs for days stays bounded", async () => {
    const mock = new MockBackend();
    const line = await mock.requestLine({ chip: "gpiochip0", offset: 3 }, { direction: "output", outputValue: 0 }, "test");
    for (let i = 0; i < 60_000; i++) await line.setValue(i % 2 === 0 ? 1 : 0);
    const history = mock.levelHistory({ chip: "gpiochip0", offset: 3 });
    assert.equal(history.length, 10_000);
    assert.equal(history.at(-1), 0, "the newest level is kept");
    // The claim, then 60,000 changes: the first 10,001 entries went, the rest follow without gaps.
    const timeline = mock.timeline();
    assert.equal(timeline.length, 50_000);
    assert.deepEqual([timeline[0]!.seq, timeline.at(-1)!.seq], [10_002, 60_001]);
    assert.deepEqual(timeline.at(-1), { ...timeline.at(-1)!, chip: "gpiochip0", offset: 3, level: 0 });
    assert.deepEqual(mock.timeline(59_999).map((change) => change.level), [1, 0]);
  });
});
