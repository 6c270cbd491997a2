// The kernel's GPIO v2 character-device uAPI (<linux/gpio.h>, Linux 5.10+): ioctl numbers, flags
// and the byte layouts of its structs. The v2 structs are padded to the same layout on every
// ABI (checked on x86_64 and arm64), so one encoding serves both targets. Pure: no I/O here.
import type { Bias, Drive, Edge, LineSettings, LineValue } from "./types.ts";

/** ioctl request numbers. */
export const IOCTL = {
  GET_CHIPINFO: 0x8044b401,
  GET_LINEINFO: 0xc100b405,
  GET_LINE: 0xc250b407,
  LINE_SET_CONFIG: 0xc110b40d,
  LINE_GET_VALUES: 0xc010b40e,
  LINE_SET_VALUES: 0xc010b40f,
} as const;

/** `gpio_v2_line_flag` bits. */
export const FLAG = {
  USED: 1n << 0n,
  ACTIVE_LOW: 1n << 1n,
  INPUT: 1n << 2n,
  OUTPUT: 1n << 3n,
  EDGE_RISING: 1n << 4n,
  EDGE_FALLING: 1n << 5n,
  OPEN_DRAIN: 1n << 6n,
  OPEN_SOURCE: 1n << 7n,
  BIAS_PULL_UP: 1n << 8n,
  BIAS_PULL_DOWN: 1n << 9n,
  BIAS_DISABLED: 1n << 10n,
  EVENT_CLOCK_REALTIME: 1n << 11n,
} as const;

const ATTR_OUTPUT_VALUES = 2;
const ATTR_DEBOUNCE = 3;

/** Struct sizes in bytes. */
export const SIZE = { chipInfo: 68, lineInfo: 256, lineRequest: 592, lineConfig: 272, lineValues: 16, lineEvent: 48 } as const;
/** `GPIO_MAX_NAME_SIZE`: names and consumers are at most 31 bytes and a NUL. */
export const NAME_SIZE = 32;

const REQUEST_CONSUMER = 256;
const REQUEST_CONFIG = 288;
const REQUEST_NUM_LINES = 560;
const REQUEST_EVENT_BUFFER = 564;
const REQUEST_FD = 588;
const CONFIG_NUM_ATTRS = 8;
const CONFIG_ATTRS = 32;
const CONFIG_ATTR_SIZE = 24;
const LINEINFO_OFFSET = 64;
const LINEINFO_NUM_ATTRS = 68;
const LINEINFO_FLAGS = 72;
const LINEINFO_ATTRS = 80;
const LINEINFO_ATTR_SIZE = 16;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readName(bytes: Uint8Array, at: number): string {
  const field = bytes.subarray(at, at + NAME_SIZE);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

function writeName(bytes: Uint8Array, at: number, text: string): void {
  bytes.set(encoder.encode(text).subarray(0, NAME_SIZE - 1), at);
}

/** The flags that say what `settings` ask of a line. */
export function settingsFlags(settings: LineSettings, realtimeClock = true): bigint {
  let flags = settings.direction === "output" ? FLAG.OUTPUT : FLAG.INPUT;
  if (settings.activeLow) flags |= FLAG.ACTIVE_LOW;
  flags |= BIAS_FLAGS[settings.bias ?? "as-is"];
  if (settings.direction === "output") flags |= DRIVE_FLAGS[settings.drive ?? "push-pull"];
  else {flags |= EDGE_FLAGS[settings.edge ?? "none"] |
      (realtimeClock && settings.edge && settings.edge !== "none" ? FLAG.EVENT_CLOCK_REALTIME : 0n);}
  return flags;
}

const BIAS_FLAGS: Record<Bias, bigint> = {
  "as-is": 0n,
  disabled: FLAG.BIAS_DISABLED,
  "pull-up": FLAG.BIAS_PULL_UP,
  "pull-down": FLAG.BIAS_PULL_DOWN,
};
const DRIVE_FLAGS: Record<Drive, bigint> = { "push-pull": 0n, "open-drain": FLAG.OPEN_DRAIN, "open-source": FLAG.OPEN_SOURCE };
const EDGE_FLAGS: Record<Edge, bigint> = {
  none: 0n,
  rising: FLAG.EDGE_RISING,
  falling: FLAG.EDGE_FALLING,
  both: FLAG.EDGE_RISING | FLAG.EDGE_FALLING,
};

/**
 * Writes a `gpio_v2_line_config` for one line at `at`: the flags, the output value in the same
 * config (so the line never shows another level), and the debounce period.
 */
function writeConfig(bytes: Uint8Array, at: number, settings: LineSettings, realtimeClock: boolean): void {
  const data = view(bytes);
  data.setBigUint64(at, settingsFlags(settings, realtimeClock), true);
  let count = 0;
  const attribute = (id: number, write: (offset: number) => void) => {
    const offset = at + CONFIG_ATTRS + count * CONFIG_ATTR_SIZE;
    data.setUint32(offset, id, true);
    write(offset + 8);
    data.setBigUint64(offset + 16, 1n, true); // mask: bit 0, the request's only line
    count++;
  };
  if (settings.direction === "output" && settings.outputValue !== undefined) {
    const value = settings.outputValue;
    attribute(ATTR_OUTPUT_VALUES, (offset) => data.setBigUint64(offset, BigInt(value), true));
  }
  const debounceMs = settings.direction === "input" ? settings.debounceMs ?? 0 : 0;
  if (debounceMs > 0) attribute(ATTR_DEBOUNCE, (offset) => data.setUint32(offset, Math.round(debounceMs * 1000), true));
  data.setUint32(at + CONFIG_NUM_ATTRS, count, true);
}

/**
 * A `gpio_v2_line_request` claiming one line. Edge events carry CLOCK_REALTIME stamps unless
 * `realtimeClock` is false (kernels before 5.11 refuse that flag).
 */
export function encodeLineRequest(offset: number, consumer: string, settings: LineSettings, realtimeClock = true): Uint8Array {
  const bytes = new Uint8Array(SIZE.lineRequest);
  const data = view(bytes);
  data.setUint32(0, offset, true);
  writeName(bytes, REQUEST_CONSUMER, consumer);
  writeConfig(bytes, REQUEST_CONFIG, settings, realtimeClock);
  data.setUint32(REQUEST_NUM_LINES, 1, true);
  data.setUint32(REQUEST_EVENT_BUFFER, 0, true); // the kernel's default: 16 events a line
  return bytes;
}

/** The line-request fd the kernel wrote into a `gpio_v2_line_request`. */
export function requestFd(bytes: Uint8Array): number {
  return view(bytes).getInt32(REQUEST_FD, true);
}

/** A `gpio_v2_line_config` for reconfiguring a one-line request. */
export function encodeLineConfig(settings: LineSettings, realtimeClock = true): Uint8Array {
  const bytes = new Uint8Array(SIZE.lineConfig);
  writeConfig(bytes, 0, settings, realtimeClock);
  return bytes;
}

/** A `gpio_v2_line_values` for a one-line request: asks for (or sets) bit 0. */
export function encodeLineValues(value: LineValue = 0): Uint8Array {
  const bytes = new Uint8Array(SIZE.lineValues);
  const data = view(bytes);
  data.setBigUint64(0, BigInt(value), true);
  data.setBigUint64(8, 1n, true);
  return bytes;
}

/** The value of bit 0 in a `gpio_v2_line_values`. */
export function decodeLineValue(bytes: Uint8Array): LineValue {
  return (view(bytes).getBigUint64(0, true) & 1n) === 1n ? 1 : 0;
}

/** A decoded `gpiochip_info`. */
export interface RawChipInfo {
  readonly name: string;
  readonly label: string;
  readonly lines: number;
}

/** Decodes a `gpiochip_info`. */
export function decodeChipInfo(bytes: Uint8Array): RawChipInfo {
  return { name: readName(bytes, 0), label: readName(bytes, 32), lines: view(bytes).getUint32(64, true) };
}

/** A `gpio_v2_line_info` asking about `offset`. */
export function encodeLineInfoQuery(offset: number): Uint8Array {
  const bytes = new Uint8Array(SIZE.lineInfo);
  view(bytes).setUint32(LINEINFO_OFFSET, offset, true);
  return bytes;
}

/** A decoded `gpio_v2_line_info`. */
export interface RawLineInfo {
  readonly name: string;
  readonly consumer: string;
  readonly offset: number;
  readonly flags: bigint;
  /** The debounce period the kernel applies, in microseconds, when it reports one. */
  readonly debounceUs: number | undefined;
}

/** Decodes a `gpio_v2_line_info`. */
export function decodeLineInfo(bytes: Uint8Array): RawLineInfo {
  const data = view(bytes);
  let debounceUs: number | undefined;
  const attributes = Math.min(data.getUint32(LINEINFO_NUM_ATTRS, true), 10);
  for (let index = 0; index < attributes; index++) {
    const at = LINEINFO_ATTRS + index * LINEINFO_ATTR_SIZE;
    if (data.getUint32(at, true) === ATTR_DEBOUNCE) debounceUs = data.getUint32(at + 8, true);
  }
  return {
    name: readName(bytes, 0),
    consumer: readName(bytes, 32),
    offset: data.getUint32(LINEINFO_OFFSET, true),
    flags: data.getBigUint64(LINEINFO_FLAGS, true),
    debounceUs,
  };
}

/** A decoded `gpio_v2_line_event`. */
export interface RawLineEvent {
  /** CLOCK_REALTIME when the request asked for it, in nanoseconds. */
  readonly timestampNs: bigint;
  readonly kind: "rising" | "falling";
  readonly offset: number;
  readonly seqno: number;
}

/** Decodes the whole events in the first `length` bytes of what `read()` returned. */
export function decodeLineEvents(bytes: Uint8Array, length: number): RawLineEvent[] {
  const data = view(bytes);
  const events: RawLineEvent[] = [];
  for (let at = 0; at + SIZE.lineEvent <= length; at += SIZE.lineEvent) {
    events.push({
      timestampNs: data.getBigUint64(at, true),
      kind: data.getUint32(at + 8, true) === 1 ? "rising" : "falling",
      offset: data.getUint32(at + 12, true),
      seqno: data.getUint32(at + 16, true),
    });
  }
  return events;
}
