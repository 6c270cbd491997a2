import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { RealerError } from "../errors.ts";

const run = promisify(execFile);

/** The emulator's TLS material: a CA that devices trust and a server certificate it signed. */
export interface Certificates {
  readonly caPath: string;
  readonly caPem: string;
  readonly certPath: string;
  readonly certPem: string;
  readonly keyPath: string;
  readonly keyPem: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run("openssl", args, { cwd: dir });
  } catch (error) {
    throw new RealerError("unsupported", `Cannot create the emulator's certificates with openssl in ${dir}`, {
      cause: error,
    });
  }
}

/** The server certificate's extensions: localhost and loopback, and any `extraHosts` (IP addresses). */
function serverExtensions(extraHosts: readonly string[]): string {
  const names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1", ...extraHosts.map((host) => `IP:${host}`)];
  return `subjectAltName=${names.join(",")}\nbasicConstraints=CA:FALSE\n` +
    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
}

/**
 * Makes a CA and a server certificate for localhost, 127.0.0.1 and `extraHosts` in `dir`, or
 * reuses the ones already there, so a device configured with the CA file keeps trusting a
 * restarted emulator. When the names asked for change, only the server certificate is made again,
 * signed by the same CA.
 */
export async function ensureCertificates(dir: string, extraHosts: readonly string[] = []): Promise<Certificates> {
  mkdirSync(dir, { recursive: true });
  const path = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  if (!existsSync(path("ca.crt")) || !existsSync(path("ca.key"))) {
    await openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-days",
      "3650",
      "-subj",
      "/CN=Realer emulator CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    ]);
  }
  const extensions = serverExtensions(extraHosts);
  const current = existsSync(path("server.ext")) ? readFileSync(path("server.ext"), "utf8") : "";
  if (!existsSync(path("server.crt")) || !existsSync(path("server.key")) || current !== extensions) {
    await openssl(dir, ["req", ...ec, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"]);
    writeFileSync(path("server.ext"), extensions);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "825",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ]);
  }
  return {
    caPath: path("ca.crt"),
    caPem: readFileSync(path("ca.crt"), "utf8"),
    certPath: path("server.crt"),
    certPem: readFileSync(path("server.crt"), "utf8"),
    keyPath: path("server.key"),
    keyPem: readFileSync(path("server.key"), "utf8"),
  };
}
