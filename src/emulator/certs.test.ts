import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ensureCertificates } from "./certs.ts";

describe("emulator certificates", () => {
  it("names an extra host when asked, signed by the same CA, and reuses both while the names hold", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-certs-"));
    try {
      const first = await ensureCertificates(dir);
      assert.doesNotMatch(new X509Certificate(first.certPem).subjectAltName ?? "", /10\.0\.2\.2/);
      const widened = await ensureCertificates(dir, ["10.0.2.2"]);
      assert.equal(widened.caPem, first.caPem, "a device that trusts the CA keeps trusting the emulator");
      const cert = new X509Certificate(widened.certPem);
      assert.match(cert.subjectAltName ?? "", /IP Address:10\.0\.2\.2/);
      assert.match(cert.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
      assert.ok(cert.verify(new X509Certificate(widened.caPem).publicKey), "signed by the emulator's CA");
      const again = await ensureCertificates(dir, ["10.0.2.2"]);
      assert.equal(again.certPem, widened.certPem, "the same names reuse the certificate");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
