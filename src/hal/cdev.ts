// The GPIO character-device backend: /dev/gpiochipN through the kernel's v2 uAPI, with ioctls
// on libc through FFI. This is the interface libgpiod wraps, without its two incompatible
// library versions; `libgpiod` in the config names this backend too.
import { readdirSync } from "node:fs";
import { RealerError } from "../errors.ts";
import { ERRNO, F_GETFL, F_SETFL, type LibC, loadLibc, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLERR, POLLIN } from "../platform/libc.ts";
import { FdWatcher } from "./fd-watcher.ts";
import { checkSettings } from "./settings.ts";
import type { ChipInfo, EdgeEvent, GpioBackend, LineInfo, LineRef, LineRequest, LineSettings, LineValue } from "./types.ts";
import { describeLine } from "./types.ts";
import {
  decodeChipInfo,
  decodeLineEvents,
  decodeLineInfo,
  decodeLineValue,
  encodeLineConfig,
  encodeLineInfoQuery,
  encodeLineRequest,
  encodeLineValues,
  FLAG,
  IOCTL,
  requestFd,
  SIZE,
} from "./uapi.ts";

interface Chip extends ChipInfo {
  readonly fd: number;
}

/** errno as a short phrase for messages. */
export function errnoPhrase(errno: number): string {
  switch (errno) {
    case ERRNO.EBUSY:
      return "line is busy";
    case ERRNO.ENOENT:
      return "no such file";
    case ERRNO.EACCES:
    case ERRNO.EPERM:
      return "permission denied";
    case ERRNO.EINVAL:
      return "the kernel refused these settings (EINVAL)";
    case ERRNO.EIO:
      return "input/output error";
    case ERRNO.ENODEV:
    case ERRNO.ENXIO:
      return "the device is gone";
    case ERRNO.ENOTTY:
      return "not a GPIO character device";
    default:
      return `errno ${errno}`;
  }
}

/** GPIO through `/dev/gpiochip*`. */
export class CdevBackend implements GpioBackend {
  readonly name = "cdev" as const;
  readonly #libc: LibC;
  readonly #devDir: string;
  readonly #watcher: FdWatcher;
  #chips: Chip[] | undefined;
  /** Chips seen in the device folder that this user may not open (EACCES, EPERM), from the last look. */
  #closed: string[] = [];
  readonly #requests = new Set<CdevRequest>();

  constructor(libc: LibC, devDir = "/dev") {
    this.#libc = libc;
    this.#devDir = devDir;
    this.#watcher = new FdWatcher(libc);
  }

  /** Binds libc and builds the backend. */
  static async open(devDir = "/dev"): Promise<CdevBackend> {
    return new CdevBackend(await loadLibc(), devDir);
  }

  listChips(): Promise<ChipInfo[]> {
    return Promise.resolve(this.#allChips().map(({ name, label, path, lines }) => ({ name, label, path, lines })));
  }

  async getLineInfo(ref: LineRef): Promise<LineInfo> {
    const { chip, offset } = this.#resolve(ref, "describe");
    const raw = this.#rawInfo(chip, offset, "describe");
    return {
      chip: chip.name,
      offset,
      name: raw.name,
      consumer: raw.consumer,
      used: (raw.flags & FLAG.USED) !== 0n,
      direction: (raw.flags & FLAG.OUTPUT) !== 0n ? "output" : "input",
      activeLow: (raw.flags & FLAG.ACTIVE_LOW) !== 0n,
      drive: (raw.flags & FLAG.OPEN_DRAIN) !== 0n ? "open-drain" : (raw.flags & FLAG.OPEN_SOURCE) !== 0n ? "open-source" : "push-pull",
    };
  }

  async requestLine(ref: LineRef, settings: LineSettings, consumer: string): Promise<LineRequest> {
    const { chip, offset } = this.#resolve(ref, "request");
    const where = `line ${offset} on ${chip.name}`;
    checkSettings(settings, `Cannot request ${where}`);
    const libc = this.#libc;
    let realtime = true;
    let bytes = encodeLineRequest(offset, consumer, settings);
    let result = libc.ioctl(chip.fd, IOCTL.GET_LINE, bytes);
    if (result < 0 && libc.errno() === ERRNO.EINVAL && hasEdges(settings)) {
      // Kernels before 5.11 know no realtime event clock: stamp events when they are read.
      realtime = false;
      bytes = encodeLineRequest(offset, consumer, settings, false);
      result = libc.ioctl(chip.fd, IOCTL.GET_LINE, bytes);
    }
    if (result < 0) {
      const errno = libc.errno();
      if (errno === ERRNO.EBUSY) {
        const holder = this.#rawInfo(chip, offset, "request").consumer || "another consumer";
        throw new RealerError("busy", `Cannot request ${where}: line is busy (held by ${holder})`);
      }
      throw new RealerError(
        errno === ERRNO.EPERM || errno === ERRNO.EACCES ? "permission" : errno === ERRNO.EINVAL ? "config" : "io",
        `Cannot request ${where}: ${errnoPhrase(errno)}`,
      );
    }
    const fd = requestFd(bytes);
    const flags = libc.fcntl(fd, F_GETFL, 0);
    if (flags >= 0) libc.fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    const request = new CdevRequest({
      libc,
      watcher: this.#watcher,
      fd,
      chip: chip.name,
      offset,
      settings,
      realtime,
      onRelease: (r) => this.#requests.delete(r),
    });
    this.#requests.add(request);
    return request;
  }

  async close(): Promise<void> {
    for (const request of [...this.#requests]) await request.release();
    this.#watcher.close();
    for (const chip of this.#chips ?? []) this.#libc.close(chip.fd);
    this.#chips = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #allChips(): Chip[] {
    if (this.#chips) return this.#chips;
    this.#closed = [];
    let names: string[];
    try {
      names = readdirSync(this.#devDir).filter((entry) => /^gpiochip\d+$/.test(entry));
    } catch {
      names = [];
    }
    names.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
    const chips: Chip[] = [];
    for (const name of names) {
      const path = `${this.#devDir}/${name}`;
      const fd = this.#libc.open(path, O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        const errno = this.#libc.errno();
        if (errno === ERRNO.EACCES || errno === ERRNO.EPERM) this.#closed.push(path);
        continue;
      }
      const bytes = new Uint8Array(SIZE.chipInfo);
      if (this.#libc.ioctl(fd, IOCTL.GET_CHIPINFO, bytes) < 0) {
        this.#libc.close(fd);
        continue;
      }
      const info = decodeChipInfo(bytes);
      chips.push({ name: info.name || name, label: info.label, path, lines: info.lines, fd });
    }
    this.#chips = chips;
    return chips;
  }

  #rawInfo(chip: Chip, offset: number, action: string) {
    const bytes = encodeLineInfoQuery(offset);
    if (this.#libc.ioctl(chip.fd, IOCTL.GET_LINEINFO, bytes) < 0) {
      const errno = this.#libc.errno();
      throw new RealerError(
        errno === ERRNO.EINVAL ? "not-found" : "io",
        `Cannot ${action} line ${offset} on ${chip.name}: ${errnoPhrase(errno)}`,
      );
    }
    return decodeLineInfo(bytes);
  }

  #resolve(ref: LineRef, action: string): { chip: Chip; offset: number } {
    // A chip that appeared since (a module loaded, an overlay applied) is found on the next lookup.
    for (const refresh of [false, true]) {
      if (refresh) this.#forgetChips();
      const chips = this.#allChips();
      if ("name" in ref) {
        for (const chip of chips) {
          for (let offset = 0; offset < chip.lines; offset++) {
            if (this.#rawInfo(chip, offset, action).name === ref.name) return { chip, offset };
          }
        }
        continue;
      }
      const chip = chips.find((c) => c.name === ref.chip || c.label === ref.chip || c.path === ref.chip);
      if (!chip) continue;
      if (ref.offset >= chip.lines) throw new RangeError(`Cannot ${action} ${describeLine(ref)}: the chip has ${chip.lines} lines`);
      return { chip, offset: ref.offset };
    }
    const why = "name" in ref ? "no line has that name" : `no such chip in ${this.#devDir}`;
    // A chip this user may not open cannot be told from a missing one: name the ones it could not.
    if (this.#closed.length > 0) {
      throw new RealerError(
        "permission",
        `Cannot ${action} ${describeLine(ref)}: ${why} that this user may open (${
          this.#closed.join(", ")
        }: permission denied; the user needs the group that owns them, gpio on Raspberry Pi OS and with realer-edge's udev rule)`,
      );
    }
    throw new RealerError("not-found", `Cannot ${action} ${describeLine(ref)}: ${why}`);
  }

  #forgetChips(): void {
    if (this.#requests.size > 0 || !this.#chips) return;
    for (const chip of this.#chips) this.#libc.close(chip.fd);
    this.#chips = undefined;
  }
}

function hasEdges(settings: LineSettings): boolean {
  return settings.direction === "input" && (settings.edge ?? "none") !== "none";
}

interface CdevRequestOptions {
  readonly libc: LibC;
  readonly watcher: FdWatcher;
  readonly fd: number;
  readonly chip: string;
  readonly offset: number;
  readonly settings: LineSettings;
  readonly realtime: boolean;
  readonly onRelease: (request: CdevRequest) => void;
}

class CdevRequest implements LineRequest {
  readonly chip: string;
  readonly offset: number;
  readonly #options: CdevRequestOptions;
  readonly #listeners = new Set<(event: EdgeEvent) => void>();
  #settings: LineSettings;
  #unwatch: (() => void) | undefined;
  #released = false;
  readonly #events = new Uint8Array(SIZE.lineEvent * 16);

  constructor(options: CdevRequestOptions) {
    this.#options = options;
    this.chip = options.chip;
    this.offset = options.offset;
    this.#settings = { ...options.settings };
    this.#syncWatch();
  }

  get settings(): Readonly<LineSettings> {
    return this.#settings;
  }

  async getValue(): Promise<LineValue> {
    this.#assertHeld("read");
    const bytes = encodeLineValues();
    this.#ioctl(IOCTL.LINE_GET_VALUES, bytes, "read");
    return decodeLineValue(bytes);
  }

  async setValue(value: LineValue): Promise<void> {
    this.#assertHeld("set");
    if (this.#settings.direction !== "output") {
      throw new RealerError("config", `Cannot set line ${this.offset} on ${this.chip}: it is an input`);
    }
    this.#ioctl(IOCTL.LINE_SET_VALUES, encodeLineValues(value), "set");
  }

  async reconfigure(settings: LineSettings): Promise<void> {
    this.#assertHeld("reconfigure");
    checkSettings(settings, `Cannot reconfigure line ${this.offset} on ${this.chip}`);
    let next = settings;
    // An output that stays an output keeps its value unless told otherwise.
    if (settings.direction === "output" && settings.outputValue === undefined && this.#settings.direction === "output") {
      next = { ...settings, outputValue: await this.getValue() };
    }
    const bytes = encodeLineConfig(next, this.#options.realtime);
    this.#ioctl(IOCTL.LINE_SET_CONFIG, bytes, "reconfigure");
    this.#settings = { ...next };
    this.#syncWatch();
  }

  onEdge(listener: (event: EdgeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#unwatch?.();
    this.#listeners.clear();
    this.#options.libc.close(this.#options.fd);
    this.#options.onRelease(this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #syncWatch(): void {
    this.#unwatch?.();
    this.#unwatch = hasEdges(this.#settings)
      ? this.#options.watcher.watch(this.#options.fd, POLLIN | POLLERR, () => this.#drain())
      : undefined;
  }

  #drain(): void {
    const { libc, fd, realtime } = this.#options;
    for (;;) {
      const length = libc.read(fd, this.#events);
      if (length <= 0) return;
      for (const raw of decodeLineEvents(this.#events, length)) {
        const event: EdgeEvent = {
          chip: this.chip,
          offset: this.offset,
          kind: raw.kind,
          value: raw.kind === "rising" ? 1 : 0,
          observedAt: realtime ? Number(raw.timestampNs / 1_000_000n) : Date.now(),
        };
        for (const listener of this.#listeners) listener(event);
      }
      if (length < this.#events.byteLength) return;
    }
  }

  #ioctl(request: number, bytes: Uint8Array, action: string): void {
    if (this.#options.libc.ioctl(this.#options.fd, request, bytes) < 0) {
      throw new RealerError("io", `Cannot ${action} line ${this.offset} on ${this.chip}: ${errnoPhrase(this.#options.libc.errno())}`);
    }
  }

  #assertHeld(action: string): void {
    if (this.#released) {
      throw new RealerError("released", `Cannot ${action} line ${this.offset} on ${this.chip}: the request was released`);
    }
  }
}
