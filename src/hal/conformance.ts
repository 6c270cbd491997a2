// One conformance suite for every GPIO backend: the mock runs it everywhere, the kernel
// backends run it on gpio-sim. A target says how to drive an input and read a pin.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RealerError } from "../errors.ts";
import type { EdgeEvent, GpioBackend, LineRef } from "./types.ts";

/** How the suite reaches one backend and the simulator behind it. */
export interface ConformanceTarget {
  readonly name: string;
  /** A fresh backend; the suite closes it. */
  open(): Promise<GpioBackend>;
  /** Pulls the pin of a line to a physical level, as the outside world would. */
  pull(ref: LineRef, level: 0 | 1): Promise<void>;
  /** The physical level at the pin. */
  level(ref: LineRef): Promise<0 | 1>;
  /** Two lines free for the suite. */
  readonly lines: readonly [LineRef, LineRef];
  /** A chip name that does not exist. */
  readonly missingChip: string;
}

const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

async function withBackend(target: ConformanceTarget, body: (backend: GpioBackend) => Promise<void>): Promise<void> {
  const backend = await target.open();
  try {
    await body(backend);
  } finally {
    await backend.close();
  }
}

/** Registers the suite for `target`. */
export function describeConformance(target: ConformanceTarget): void {
  const [a, b] = target.lines;
  describe(`GPIO conformance: ${target.name}`, () => {
    it("sets an output's value in the same request that claims it", () =>
      withBackend(target, async (backend) => {
        await using line = await backend.requestLine(a, { direction: "output", outputValue: 1 }, "conformance");
        assert.equal(await target.level(a), 1);
        assert.equal(await line.getValue(), 1);
        await line.setValue(0);
        assert.equal(await target.level(a), 0);
      }));

    it("inverts values of an active-low output", () =>
      withBackend(target, async (backend) => {
        await using line = await backend.requestLine(a, { direction: "output", activeLow: true, outputValue: 1 }, "conformance");
        assert.equal(await target.level(a), 0, "active means low");
        await line.setValue(0);
        assert.equal(await target.level(a), 1);
      }));

    it("reads an input's pull, inverted when active-low", () =>
      withBackend(target, async (backend) => {
        await target.pull(b, 1);
        await using plain = await backend.requestLine(b, { direction: "input" }, "conformance");
        assert.equal(await plain.getValue(), 1);
        await plain.reconfigure({ direction: "input", activeLow: true });
        assert.equal(await plain.getValue(), 0);
        await target.pull(b, 0);
      }));

    it("refuses a line that is already held, naming the line and chip", () =>
      withBackend(target, async (backend) => {
        await using _held = await backend.requestLine(a, { direction: "output" }, "first-holder");
        await assert.rejects(backend.requestLine(a, { direction: "input" }, "second"), (error: unknown) =>
          error instanceof RealerError && error.kind === "busy" && /^Cannot request line \d+ on \S+: line is busy/.test(error.message));
        const info = await backend.getLineInfo(a);
        assert.equal(info.used, true);
        assert.equal(info.consumer, "first-holder");
      }));

    it("frees a line on release", () =>
      withBackend(target, async (backend) => {
        const line = await backend.requestLine(a, { direction: "output" }, "conformance");
        await line.release();
        assert.equal((await backend.getLineInfo(a)).used, false);
        await using again = await backend.requestLine(a, { direction: "input" }, "conformance");
        assert.equal(again.offset, line.offset);
      }));

    it("refuses edge detection on an output", () =>
      withBackend(target, async (backend) => {
        await assert.rejects(backend.requestLine(a, { direction: "output", edge: "both" }, "conformance"), RealerError);
      }));

    it("reports rising and falling edges of an input, in logical terms", () =>
      withBackend(target, async (backend) => {
        await target.pull(b, 0);
        await using line = await backend.requestLine(b, { direction: "input", edge: "both" }, "conformance");
        const events: EdgeEvent[] = [];
        line.onEdge((event) => events.push(event));
        await target.pull(b, 1);
        await settle();
        await target.pull(b, 0);
        await settle();
        assert.deepEqual(events.map((event) => [event.kind, event.value]), [["rising", 1], ["falling", 0]]);
      }));

    it("reports only the edges asked for", () =>
      withBackend(target, async (backend) => {
        await target.pull(b, 0);
        await using line = await backend.requestLine(b, { direction: "input", edge: "falling" }, "conformance");
        const events: EdgeEvent[] = [];
        line.onEdge((event) => events.push(event));
        await target.pull(b, 1);
        await settle();
        await target.pull(b, 0);
        await settle();
        assert.deepEqual(events.map((event) => event.kind), ["falling"]);
      }));

    it("collapses bounces shorter than the debounce period", () =>
      withBackend(target, async (backend) => {
        await target.pull(b, 0);
        await using line = await backend.requestLine(b, { direction: "input", edge: "both", debounceMs: 40 }, "conformance");
        const events: EdgeEvent[] = [];
        line.onEdge((event) => events.push(event));
        for (const level of [1, 0, 1, 0, 1] as const) await target.pull(b, level);
        await settle(150);
        assert.deepEqual(events.map((event) => event.kind), ["rising"]);
        await target.pull(b, 0);
        await settle(150);
      }));

    it("says which chip is missing", () =>
      withBackend(target, async (backend) => {
        await assert.rejects(backend.requestLine({ chip: target.missingChip, offset: 0 }, { direction: "input" }, "x"), (error: unknown) =>
          error instanceof RealerError && error.kind === "not-found" && error.message.includes(target.missingChip));
      }));
  });
}
