// Writing a file so that a crash or a power cut leaves the old one or the new one, never a mix:
// write beside it, fsync, rename over it, fsync the directory.
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Where a test makes the process "die": called before each durable step with its name. */
export type StepHook = (step: string) => void;

/** fsyncs a directory, so that a rename in it survives a power cut. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with `data` atomically (mode 0644 unless told), durable when it returns. */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number; step?: StepHook } = {}): void {
  const step = options.step ?? (() => {});
  const temporary = `${path}.tmp`;
  step(`write ${temporary}`);
  const fd = openSync(temporary, "w", options.mode ?? 0o644);
  try {
    // The mode asked for, whatever the caller's umask.
    fchmodSync(fd, options.mode ?? 0o644);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    step(`fsync ${temporary}`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  step(`rename ${temporary}`);
  renameSync(temporary, path);
  step(`fsync ${dirname(path)}`);
  syncDirectory(dirname(path));
}
