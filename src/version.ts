/** The release version. */
export const VERSION = "0.2.0";

/** The commit the binary was built from; `scripts/build.ts` defines it, "dev" when run from source. */
export const COMMIT: string = process.env.REALER_BUILD_COMMIT ?? "dev";
