// The rooms stay rooms: a folder of src/ imports only from its own layer or the ones below it.
// Tests are left out: they sit above everything (a unit test may start the emulator in process).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

/**
 * Bottom first. A folder may import from its own row and every row above it in this list, never
 * from a row below. `(root)` is the files directly in src/ (errors, clock, log…), main.ts apart.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["(root)", "platform"],
  ["config", "hal", "service"],
  ["cloud", "mqtt"],
  ["state"],
  ["update", "outbox"],
  ["https"],
  ["device"],
  ["console"],
  ["emulator"],
  ["commands", "hil"],
  ["main.ts"],
];

/** The room a source file belongs to: its first folder under src/, "(root)" or "main.ts". */
function roomOf(file: string): string {
  const path = relative(SRC, file).split(/[\\/]/);
  if (path.length === 1) return path[0] === "main.ts" ? "main.ts" : "(root)";
  return path[0]!;
}

function layerOf(room: string): number {
  const index = LAYERS.findIndex((row) => row.includes(room));
  return index;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every relative import of a file (static, dynamic, `export … from`), resolved. */
function importsOf(file: string, text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => resolve(dirname(file), match[1]!));
}

/** Imports that reach up a layer, as "from → to" lines. */
function upwardImports(files: readonly string[], read = (file: string) => readFileSync(file, "utf8")): string[] {
  const found: string[] = [];
  for (const file of files) {
    const room = roomOf(file);
    for (const target of importsOf(file, read(file))) {
      const to = roomOf(target);
      if (layerOf(to) > layerOf(room)) found.push(`${relative(SRC, file)} (${room}) imports ${relative(SRC, target)} (${to})`);
    }
  }
  return found;
}

describe("the layers of src/", () => {
  const files = sourceFiles(SRC);

  it("places every folder of src/ in a layer", () => {
    const rooms = new Set(files.map(roomOf));
    assert.deepEqual([...rooms].filter((room) => layerOf(room) < 0), []);
  });

  it("has no import that reaches up a layer (state ← outbox ← https ← device ← …)", () => {
    assert.deepEqual(upwardImports(files), []);
  });

  it("finds an upward import when one is written", () => {
    // The check itself: a state file that imported the outbox, or the HAL that loaded the device, is caught.
    const files = [join(SRC, "state", "fake.ts"), join(SRC, "hal", "fake.ts"), join(SRC, "device", "fake.ts")];
    const texts: Record<string, string> = {
      [files[0]!]: `import type { Outbox } from "../outbox/outbox.ts";`,
      [files[1]!]: `const device = await import("../device/runtime.ts");`,
      [files[2]!]: `import { DeviceStore } from "../state/store.ts";\nimport { LOG } from "../log.ts";`,
    };
    assert.deepEqual(upwardImports(files, (file) => texts[file] ?? ""), [
      "state/fake.ts (state) imports outbox/outbox.ts (outbox)",
      "hal/fake.ts (hal) imports device/runtime.ts (device)",
    ]);
  });
});
