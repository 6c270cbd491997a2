import { bunGlobal, denoGlobal } from "./globals.ts";
import { pollThread } from "./poll-thread.ts";

/** The libc calls the GPIO backends use, bound through `bun:ffi` or `Deno.dlopen` (no native addon). */
export interface LibC {
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, request: number, buffer: Uint8Array): number;
  read(fd: number, buffer: Uint8Array): number;
  pread(fd: number, buffer: Uint8Array, offset: number): number;
  write(fd: number, buffer: Uint8Array): number;
  /** fcntl(2) with an integer argument (F_GETFL, F_SETFL). */
  fcntl(fd: number, command: number, argument: number): number;
  /** poll(2) on the calling thread: it blocks the event loop for up to `timeoutMs`. */
  poll(fds: Uint8Array, count: number, timeoutMs: number): number;
  /**
   * poll(2) off the event loop: Deno's non-blocking FFI, a worker thread under Bun
   * (poll-thread.ts); undefined where neither is (a test's stand-in).
   */
  readonly pollAsync: ((fds: Uint8Array, count: number, timeoutMs: number) => Promise<number>) | undefined;
  /** pipe2(2): two fds (read end, write end) written into `fds` (8 bytes). */
  pipe2(fds: Uint8Array, flags: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Uint8Array): number;
  sendto(fd: number, message: Uint8Array, flags: number, address: Uint8Array): number;
  recv(fd: number, buffer: Uint8Array, flags: number): number;
  /** adjtimex(2) on a `struct timex` buffer: the clock state (5, TIME_ERROR, while unsynchronised). */
  adjtimex(buffer: Uint8Array): number;
  /** The calling thread's errno after a failed call. */
  errno(): number;
}

/** `AF_UNIX`, `SOCK_DGRAM`, `SOCK_CLOEXEC`, `MSG_DONTWAIT`, for sd_notify. */
export const AF_UNIX = 1;
/** See {@linkcode AF_UNIX}. */
export const SOCK_DGRAM = 2;
/** See {@linkcode AF_UNIX}. */
export const SOCK_CLOEXEC = 0o2000000;
/** See {@linkcode AF_UNIX}. */
export const MSG_DONTWAIT = 0x40;

/** A `struct sockaddr_un` for `path`; a leading "@" names the abstract namespace. */
export function unixAddress(path: string): Uint8Array {
  const name = new TextEncoder().encode(path.startsWith("@") ? `\0${path.slice(1)}` : `${path}\0`);
  if (name.byteLength > 108) throw new RangeError(`Cannot use socket path ${path}: longer than 107 bytes`);
  const address = new Uint8Array(2 + name.byteLength);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(name, 2);
  return address;
}

/** Flags for `open`. */
export const O_RDONLY = 0;
/** Flags for `open`. */
export const O_WRONLY = 1;
/** `fcntl` commands. */
export const F_GETFL = 3;
/** `fcntl` commands. */
export const F_SETFL = 4;
/** `poll` events. */
export const POLLIN = 1;
/** `poll` events. */
export const POLLPRI = 2;
/** `poll` events. */
export const POLLERR = 8;
/** errno values (asm-generic: the same on x86_64 and arm64). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
} as const;
/** Flags for `open`. */
export const O_RDWR = 2;
/** Flags for `open`. */
export const O_NONBLOCK = 0o4000;
/** Flags for `open`. */
export const O_CLOEXEC = 0o2000000;

const cString = (text: string) => new TextEncoder().encode(`${text}\0`);
// Variadic prototypes (ioctl, open) are declared with fixed arguments: ABI-correct on Linux
// x86_64 and aarch64, the two targets. Specifiers in variables keep each runtime's module out
// of the other's type check and bundle.
const BUN_FFI = "bun:ffi";

type Native = Record<string, (...args: never[]) => unknown>;

interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: Native; close(): void };
  read: { i32(pointer: unknown, offset: number): number };
}

interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, { name?: string; parameters: string[]; result: string; nonblocking?: boolean }>,
  ): { symbols: Native; close(): void };
  UnsafePointerView: new (pointer: unknown) => { getInt32(offset: number): number };
}

/** A pipe through `libc`, both ends non-blocking and closed on exec; undefined when pipe2(2) fails. */
export function openPipe(libc: LibC): { readonly read: number; readonly write: number } | undefined {
  const pair = new Uint8Array(8);
  if (libc.pipe2(pair, O_NONBLOCK | O_CLOEXEC) !== 0) return undefined;
  const ends = new DataView(pair.buffer);
  return { read: ends.getInt32(0, true), write: ends.getInt32(4, true) };
}

/** Binds libc (`libc.so.6` unless told otherwise). */
export async function loadLibc(path = "libc.so.6"): Promise<LibC> {
  if (bunGlobal) {
    const ffi = (await import(BUN_FFI)) as BunFfi;
    const { symbols } = ffi.dlopen(path, {
      open: { args: ["ptr", "i32"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
      ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
      read: { args: ["i32", "ptr", "u64"], returns: "i64" },
      pread: { args: ["i32", "ptr", "u64", "i64"], returns: "i64" },
      write: { args: ["i32", "ptr", "u64"], returns: "i64" },
      fcntl: { args: ["i32", "i32", "i64"], returns: "i32" },
      poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
      pipe2: { args: ["ptr", "i32"], returns: "i32" },
      socket: { args: ["i32", "i32", "i32"], returns: "i32" },
      bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
      sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
      recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
      adjtimex: { args: ["ptr"], returns: "i32" },
      __errno_location: { args: [], returns: "ptr" },
    });
    const call = symbols as unknown as Record<string, (...args: unknown[]) => number | bigint | unknown>;
    return {
      open: (file, flags) => Number(call.open!(cString(file), flags)),
      close: (fd) => Number(call.close!(fd)),
      ioctl: (fd, request, buffer) => Number(call.ioctl!(fd, request, buffer)),
      read: (fd, buffer) => Number(call.read!(fd, buffer, buffer.byteLength)),
      pread: (fd, buffer, offset) => Number(call.pread!(fd, buffer, buffer.byteLength, offset)),
      write: (fd, buffer) => Number(call.write!(fd, buffer, buffer.byteLength)),
      fcntl: (fd, command, argument) => Number(call.fcntl!(fd, command, argument)),
      poll: (fds, count, timeoutMs) => Number(call.poll!(fds, count, timeoutMs)),
      pollAsync: pollThread(path),
      pipe2: (fds, flags) => Number(call.pipe2!(fds, flags)),
      socket: (domain, type, protocol) => Number(call.socket!(domain, type, protocol)),
      bind: (fd, address) => Number(call.bind!(fd, address, address.byteLength)),
      sendto: (fd, message, flags, address) => Number(call.sendto!(fd, message, message.byteLength, flags, address, address.byteLength)),
      recv: (fd, buffer, flags) => Number(call.recv!(fd, buffer, buffer.byteLength, flags)),
      adjtimex: (buffer) => Number(call.adjtimex!(buffer)),
      errno: () => ffi.read.i32(call.__errno_location!(), 0),
    };
  }
  const deno = denoGlobal as unknown as DenoFfi;
  const { symbols } = deno.dlopen(path, {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
    poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
    poll_async: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
    pipe2: { parameters: ["buffer", "i32"], result: "i32" },
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
    recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
    adjtimex: { parameters: ["buffer"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  const call = symbols as unknown as Record<string, (...args: unknown[]) => unknown>;
  return {
    open: (file, flags) => Number(call.open!(cString(file), flags)),
    close: (fd) => Number(call.close!(fd)),
    ioctl: (fd, request, buffer) => Number(call.ioctl!(fd, BigInt(request), buffer)),
    read: (fd, buffer) => Number(call.read!(fd, buffer, BigInt(buffer.byteLength))),
    pread: (fd, buffer, offset) => Number(call.pread!(fd, buffer, BigInt(buffer.byteLength), BigInt(offset))),
    write: (fd, buffer) => Number(call.write!(fd, buffer, BigInt(buffer.byteLength))),
    fcntl: (fd, command, argument) => Number(call.fcntl!(fd, command, BigInt(argument))),
    poll: (fds, count, timeoutMs) => Number(call.poll!(fds, BigInt(count), timeoutMs)),
    pollAsync: (fds, count, timeoutMs) => (call.poll_async!(fds, BigInt(count), timeoutMs) as Promise<number>).then(Number),
    pipe2: (fds, flags) => Number(call.pipe2!(fds, flags)),
    socket: (domain, type, protocol) => Number(call.socket!(domain, type, protocol)),
    bind: (fd, address) => Number(call.bind!(fd, address, address.byteLength)),
    sendto: (fd, message, flags, address) =>
      Number(call.sendto!(fd, message, BigInt(message.byteLength), flags, address, address.byteLength)),
    recv: (fd, buffer, flags) => Number(call.recv!(fd, buffer, BigInt(buffer.byteLength), flags)),
    adjtimex: (buffer) => Number(call.adjtimex!(buffer)),
    errno: () => new deno.UnsafePointerView(call.__errno_location!()).getInt32(0),
  };
}
