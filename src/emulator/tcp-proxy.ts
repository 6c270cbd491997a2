import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  frozen: boolean;
}

/**
 * A loopback TCP proxy in front of the broker, so a test can make a connection look alive
 * while nothing passes: `freeze()` swallows every byte of the connections open now, in both
 * directions, without closing them. New connections pass.
 */
export class TcpProxy {
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  #server: Server | undefined;
  #port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  /** The port it listens on, 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** Listens on `port` (0 for any free one). */
  start(port = 0): Promise<void> {
    const server = createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const address = server.address();
        this.#port = typeof address === "object" && address ? address.port : 0;
        resolve();
      });
    });
  }

  /** Swallows all traffic of the connections open now; returns how many there were. */
  freeze(): number {
    for (const pair of this.#pairs) pair.frozen = true;
    return this.#pairs.size;
  }

  /** Closes every connection and stops listening. */
  async stop(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = connect(this.#targetPort, "127.0.0.1");
    const pair: Pair = { client, upstream, frozen: false };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    const close = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }
}
