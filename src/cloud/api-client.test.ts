import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import { RealerError } from "../errors.ts";
import { ApiClient, MAX_ANSWER_BYTES } from "./api-client.ts";
import { decideRetry, DEFAULT_BACKOFF } from "./retry-policy.ts";

const Schema = v.object({ mqtt: v.object({ broker_url: v.string() }) });

/** A fetch that answers every request with `respond()`, as a captive portal or a broken proxy would. */
const fake = (respond: () => Response) => ((() => Promise.resolve(respond())) as unknown) as typeof fetch;

async function failure(respond: () => Response): Promise<RealerError> {
  const api = new ApiClient("https://api.example.test", fake(respond));
  try {
    await api.request({ method: "GET", path: "/iot/v1/devices/1/mqtt", schema: Schema });
  } catch (error) {
    assert.ok(error instanceof RealerError, `a RealerError, got ${String(error)}`);
    return error;
  }
  throw new Error("the request succeeded");
}

/** A body streamed in chunks without a Content-Length. */
function streamed(totalBytes: number): Response {
  let sent = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= totalBytes) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
    { status: 200, headers: { "content-type": "application/json" } },
  );
}

describe("ApiClient answers it cannot use", () => {
  it("names a captive portal's HTML page as not JSON, and the retry policy calls it transient", async () => {
    const error = await failure(() =>
      new Response("<html><body>Please log in to the hotel Wi-Fi</body></html>", { status: 200, headers: { "content-type": "text/html" } })
    );
    assert.equal(error.kind, "protocol");
    assert.equal(error.message, "Cannot use the answer of GET https://api.example.test/iot/v1/devices/1/mqtt: it is not JSON");
    assert.equal(decideRetry(error, 0, DEFAULT_BACKOFF).class, "transient");
  });

  it("names a truncated body and a field of the wrong type, with the field's path", async () => {
    assert.match((await failure(() => new Response('{"mqtt": {"broker_url": "mqtts://', { status: 200 }))).message, /it is not JSON$/);
    const wrong = await failure(() => Response.json({ mqtt: { broker_url: 42 } }));
    assert.match(wrong.message, /: mqtt\.broker_url: /);
    assert.equal(decideRetry(wrong, 0, DEFAULT_BACKOFF).class, "transient");
  });

  it("refuses an answer over 1 MiB, declared or streamed, without reading it all", async () => {
    const declared = await failure(() => new Response("x", { status: 200, headers: { "content-length": String(50 * 1024 * 1024) } }));
    assert.match(declared.message, new RegExp(`over ${MAX_ANSWER_BYTES} bytes`));
    const chunked = await failure(() => streamed(50 * 1024 * 1024));
    assert.match(chunked.message, new RegExp(`over ${MAX_ANSWER_BYTES} bytes`));
  });

  it("cuts an error body's reason to a sane length", async () => {
    const error = await failure(() => Response.json({ code: 4000, error: "e".repeat(100_000) }, { status: 400 }));
    assert.ok(error.message.length < 400, `message of ${error.message.length} characters`);
  });
});
