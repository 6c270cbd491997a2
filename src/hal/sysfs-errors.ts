// What a failed sysfs access means, for the GPIO and PWM sysfs backends alike: the errno's code,
// the error kind it maps to, and a phrase for one-line messages.

/** The errno code of a failed node:fs call ("EBUSY"), or "". */
export const errorCode = (error: unknown): string => (error as { code?: string } | null)?.code ?? "";

/** The error kind for a failed sysfs access: permission, busy, or I/O on a file in use. */
export function sysfsErrorKind(error: unknown): "permission" | "busy" | "io" {
  const code = errorCode(error);
  return code === "EACCES" || code === "EPERM" ? "permission" : code === "EBUSY" ? "busy" : "io";
}

const PHRASES: Readonly<Record<string, string>> = {
  EBUSY: "line is busy",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EINVAL: "the kernel refused it (EINVAL)",
  EIO: "the kernel refused it (EIO)",
  ENOENT: "no such file",
};

/** A failed sysfs access in a few words; `words` puts a backend's own words for some codes. */
export function sysfsPhrase(error: unknown, words: Readonly<Record<string, string>> = {}): string {
  const code = errorCode(error);
  return words[code] ?? PHRASES[code] ?? (error instanceof Error ? error.message : String(error));
}
