// A fault built into a test release, so that the updater's board campaign has releases that fail
// the ways field releases do: `scripts/build.ts` defines REALER_BUILD_FAULT for them
// (`buildWithFault`). A build without the define, and every run from source, has none: nothing at
// run time (no environment variable, no config) can turn one on.
declare const REALER_BUILD_FAULT: string | undefined;

/** The ways a test release can be bad. */
export const BUILD_FAULTS = ["crash-at-start", "never-ready", "watchdog-stall", "never-connect", "desired-unanswered"] as const;

export type BuildFault = (typeof BUILD_FAULTS)[number];

/** This build's fault, or undefined (every release that ships). */
export const BUILD_FAULT: BuildFault | undefined = typeof REALER_BUILD_FAULT === "string" &&
    (BUILD_FAULTS as readonly string[]).includes(REALER_BUILD_FAULT)
  ? REALER_BUILD_FAULT as BuildFault
  : undefined;
