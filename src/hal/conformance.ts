// One conformance suite for every GPIO backend: the mock runs it everywhere, the kernel
// backends run it on gpio-sim in an arm64 VM. A target says how to drive an input and read a
// pin. The cases are plain functions, so a compiled runner can run them where node:test is not.
import assert from "node:assert/strict";
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
  /** Whether the backend sets an input's bias and an output's drive; one that cannot must refuse them. */
  readonly bias: boolean;
  /**
   * Whether the simulator shows a let-go open-drain pin at its pull. gpio-sim in Debian 12's 6.1 does
   * not: gpiolib emulates open-drain high by turning the line into an input but keeps it flagged
   * as an output, and gpio-sim then leaves the pin at its last driven level.
   */
  readonly letGoFollowsPull?: boolean;
  /** A line the backend finds by name; absent when it cannot look names up (it must refuse). */
  readonly named?: { readonly name: string; readonly offset: number };
}

/** One case of the suite: it gets a fresh backend, which is closed after it. */
export interface ConformanceCase {
  readonly name: string;
  run(backend: GpioBackend, target: ConformanceTarget, lines: readonly [LineRef, LineRef]): Promise<void>;
}

const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one case against a fresh backend of `target`. */
export async function runCase(target: ConformanceTarget, testCase: ConformanceCase): Promise<void> {
  const backend = await target.open();
  try {
    await testCase.run(backend, target, target.lines);
  } finally {
    await backend.close();
  }
}

/** The cases, in order. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  {
    name: "sets an output's value in the same request that claims it",
    run: async (backend, target, [a]) => {
      await using line = await backend.requestLine(a, { direction: "output", outputValue: 1 }, "conformance");
      assert.equal(await target.level(a), 1);
      assert.equal(await line.getValue(), 1);
      await line.setValue(0);
      assert.equal(await target.level(a), 0);
    },
  },

  {
    name: "inverts values of an active-low output",
    run: async (backend, target, [a]) => {
      await using line = await backend.requestLine(a, { direction: "output", activeLow: true, outputValue: 1 }, "conformance");
      assert.equal(await target.level(a), 0, "active means low");
      await line.setValue(0);
      assert.equal(await target.level(a), 1);
    },
  },

  {
    name: "reads an input's pull, inverted when active-low",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 1);
      await using plain = await backend.requestLine(b, { direction: "input" }, "conformance");
      assert.equal(await plain.getValue(), 1);
      await plain.reconfigure({ direction: "input", activeLow: true });
      assert.equal(await plain.getValue(), 0);
      await target.pull(b, 0);
    },
  },

  {
    name: "refuses a line that is already held, naming the line and chip",
    run: async (backend, _target, [a]) => {
      await using _held = await backend.requestLine(a, { direction: "output" }, "first-holder");
      await assert.rejects(
        backend.requestLine(a, { direction: "input" }, "second"),
        (error: unknown) =>
          error instanceof RealerError && error.kind === "busy" && /^Cannot request line \d+ on \S+: line is busy/.test(error.message),
      );
      const info = await backend.getLineInfo(a);
      assert.equal(info.used, true);
      assert.equal(info.consumer, "first-holder");
    },
  },

  {
    name: "frees a line on release",
    run: async (backend, _target, [a]) => {
      const line = await backend.requestLine(a, { direction: "output" }, "conformance");
      await line.release();
      assert.equal((await backend.getLineInfo(a)).used, false);
      await using again = await backend.requestLine(a, { direction: "input" }, "conformance");
      assert.equal(again.offset, line.offset);
    },
  },

  {
    name: "refuses edge detection on an output",
    run: async (backend, _target, [a]) => {
      await assert.rejects(backend.requestLine(a, { direction: "output", edge: "both" }, "conformance"), RealerError);
    },
  },

  {
    name: "reports rising and falling edges of an input, in logical terms",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 0);
      await using line = await backend.requestLine(b, { direction: "input", edge: "both" }, "conformance");
      const events: EdgeEvent[] = [];
      line.onEdge((event) => events.push(event));
      await target.pull(b, 1);
      await settle();
      await target.pull(b, 0);
      await settle();
      assert.deepEqual(events.map((event) => [event.kind, event.value]), [["rising", 1], ["falling", 0]]);
    },
  },

  {
    name: "reports only the edges asked for",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 0);
      await using line = await backend.requestLine(b, { direction: "input", edge: "falling" }, "conformance");
      const events: EdgeEvent[] = [];
      line.onEdge((event) => events.push(event));
      await target.pull(b, 1);
      await settle();
      await target.pull(b, 0);
      await settle();
      assert.deepEqual(events.map((event) => event.kind), ["falling"]);
    },
  },

  {
    name: "collapses bounces shorter than the debounce period",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 0);
      await using line = await backend.requestLine(b, { direction: "input", edge: "both", debounceMs: 40 }, "conformance");
      const events: EdgeEvent[] = [];
      line.onEdge((event) => events.push(event));
      for (const level of [1, 0, 1, 0, 1] as const) await target.pull(b, level);
      await settle(150);
      assert.deepEqual(events.map((event) => event.kind), ["rising"]);
      await target.pull(b, 0);
      await settle(150);
    },
  },

  {
    name: "keeps an output's value when reconfigured without one",
    run: async (backend, target, [a]) => {
      await using line = await backend.requestLine(a, { direction: "output", outputValue: 1 }, "conformance");
      await line.reconfigure({ direction: "output", bias: "as-is" });
      assert.equal(await target.level(a), 1);
      assert.equal(await line.getValue(), 1);
    },
  },

  {
    name: "pulls an input with its bias, or refuses a bias it cannot set",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 0);
      if (!target.bias) {
        await assert.rejects(
          backend.requestLine(b, { direction: "input", bias: "pull-up" }, "conformance"),
          (error: unknown) => error instanceof RealerError && error.kind === "unsupported" && error.message.includes("bias"),
        );
        return;
      }
      await using line = await backend.requestLine(b, { direction: "input", bias: "pull-up" }, "conformance");
      assert.equal(await line.getValue(), 1);
      await line.reconfigure({ direction: "input", bias: "pull-down" });
      assert.equal(await line.getValue(), 0);
    },
  },

  {
    name: "reports edges of an active-low input in logical terms, stamped with the wall clock",
    run: async (backend, target, [, b]) => {
      await target.pull(b, 0);
      await using line = await backend.requestLine(b, { direction: "input", activeLow: true, edge: "both" }, "conformance");
      const events: EdgeEvent[] = [];
      line.onEdge((event) => events.push(event));
      const before = Date.now();
      await target.pull(b, 1);
      await settle();
      await target.pull(b, 0);
      await settle();
      assert.deepEqual(events.map((event) => [event.kind, event.value]), [["falling", 0], ["rising", 1]]);
      for (const event of events) {
        assert.ok(
          event.observedAt >= before - 5 && event.observedAt <= Date.now(),
          `stamp ${event.observedAt} outside [${before}, ${Date.now()}]`,
        );
      }
    },
  },

  {
    name: "drives open-drain: low is driven, high lets the pull decide",
    run: async (backend, target, [a]) => {
      await target.pull(a, 1);
      if (!target.bias) {
        await assert.rejects(
          backend.requestLine(a, { direction: "output", drive: "open-drain" }, "conformance"),
          (error: unknown) => error instanceof RealerError && error.kind === "unsupported" && error.message.includes("drive"),
        );
        await target.pull(a, 0);
        return;
      }
      await using line = await backend.requestLine(a, { direction: "output", drive: "open-drain", outputValue: 0 }, "conformance");
      assert.equal((await backend.getLineInfo(a)).drive, "open-drain");
      assert.equal(await target.level(a), 0, "low is driven against the pull-up");
      await line.setValue(1);
      if (target.letGoFollowsPull === false) {
        await target.pull(a, 0);
        return;
      }
      // High is let go: the level follows the pull both ways. (gpio-sim recomputes a let-go pin
      // only when its pull changes, so the pull is moved rather than read as it was.)
      await target.pull(a, 0);
      assert.equal(await target.level(a), 0, "nothing drives high: the pull-down wins");
      await target.pull(a, 1);
      assert.equal(await target.level(a), 1, "high is the pull-up's");
      await target.pull(a, 0);
    },
  },

  {
    name: "finds a line by its name, or says it cannot",
    run: async (backend, target) => {
      if (!target.named) {
        await assert.rejects(
          backend.requestLine({ name: "RELAY1" }, { direction: "input" }, "conformance"),
          (error: unknown) => error instanceof RealerError && error.kind === "unsupported",
        );
        return;
      }
      await using line = await backend.requestLine({ name: target.named.name }, { direction: "input" }, "conformance");
      assert.equal(line.offset, target.named.offset);
      await assert.rejects(
        backend.requestLine({ name: "NO_SUCH_LINE" }, { direction: "input" }, "conformance"),
        (error: unknown) => error instanceof RealerError && error.kind === "not-found" && error.message.includes("NO_SUCH_LINE"),
      );
    },
  },

  {
    name: "says which chip is missing",
    run: async (backend, target) => {
      await assert.rejects(
        backend.requestLine({ chip: target.missingChip, offset: 0 }, { direction: "input" }, "x"),
        (error: unknown) => error instanceof RealerError && error.kind === "not-found" && error.message.includes(target.missingChip),
      );
    },
  },
];
