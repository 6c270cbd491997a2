// Headless Chromium from Debian, driven by playwright-core: the flags this machine needs (no
// background networking: the network is closed), and the emulator's certificate pinned by its
// key so that its HTTPS pages load without turning certificate checks off.
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** Where the browser tests keep their screenshots (a test artefact). */
export const SCREENSHOTS = join("test-results", "screenshots");

/** Why the browser tests cannot run here, or false. */
export function browserUnavailable(): string | false {
  return existsSync(CHROMIUM) ? false : "Debian's chromium is not installed (scripts/setup.sh installs it)";
}

/** The base64 SHA-256 of a certificate's public key, as Chromium's SPKI pin list wants it. */
export function spkiPin(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** Launch arguments for a headless Chromium that trusts the certificate with key `pin` (playwright adds --headless and its own profile). */
export function chromiumArgs(pin: string): string[] {
  return [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--ignore-certificate-errors-spki-list=${pin}`,
  ];
}

/** The screenshot path for `name`, its folder made. */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}
