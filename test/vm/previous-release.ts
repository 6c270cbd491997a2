// The previous release's Debian package, for the upgrade test: 0.1.0 as main last landed it
// (commit below), built from its own tree (`git archive`, with this checkout's node_modules).
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";

/** realer-edge 0.1.0: the last commit of main before 0.2.0's package changes. */
export const PREVIOUS_RELEASE = { version: "0.1.0", commit: "792d42d29460af6c70a630a1c5a96ff7fe47a210" } as const;

const ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../..");

/** Builds the previous release's arm64 package into `outDir`; returns its path. */
export function buildPreviousReleaseDeb(outDir: string): string {
  const tree = join(outDir, `realer-edge-${PREVIOUS_RELEASE.version}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const unpacked = spawnSync("sh", ["-c", `git -C '${ROOT}' archive ${PREVIOUS_RELEASE.commit} | tar -x -C '${tree}'`], {
    encoding: "utf8",
  });
  if (unpacked.status !== 0) throw new Error(`git archive ${PREVIOUS_RELEASE.commit} failed: ${unpacked.stderr}`);
  symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
  const script = `import { build } from "./scripts/build.ts"; import { buildDeb } from "./scripts/package.ts";
const [binary] = build(["linux-arm64"], ${JSON.stringify(outDir)}); console.log("DEB " + buildDeb("arm64", binary, ${
    JSON.stringify(outDir)
  }));`;
  const built = spawnSync(join(ROOT, "node_modules/.bin/bun"), ["-e", script], { cwd: tree, encoding: "utf8" });
  const deb = /^DEB (.+)$/m.exec(built.stdout ?? "")?.[1];
  rmSync(tree, { recursive: true, force: true });
  if (built.status !== 0 || !deb) throw new Error(`building ${PREVIOUS_RELEASE.version} failed:\n${built.stdout}${built.stderr}`);
  return deb;
}
