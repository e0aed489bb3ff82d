// Serial line: a raw 8N1 tty for the serial heartbeat cable.
import CShaolin
import Glibc
import SystemPackage

/// A serial port (or pty) in raw 8N1 mode, non-blocking.
///
/// Opened with `O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC`; termios is `cfmakeraw` plus
/// `CS8 | CLOCAL | CREAD`, no parity, one stop bit, optional `CRTSCTS`, `VMIN = 0`,
/// `VTIME = 0`. With VMIN/VTIME at 0 a read with no data returns 0 bytes, the same as a
/// hung-up tty; `read` tells them apart with a zero-timeout `poll` (POLLHUP/POLLERR).
///
/// A device that disappears (USB adapter unplugged, pty whose other side closed) is
/// reported as `.down` by `read`/`write`; call `reopen()` to open the same path again
/// (a re-created pty cable's symlink then points at the new pty).
public struct SerialPort: Sendable {
    /// Baud rates the shim maps to `Bxxx` constants.
    public static let supportedBaudRates: [UInt32] = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600]

    /// The open descriptor, or nil after `close()` or a failed `reopen()`.
    public private(set) var fileDescriptor: FileDescriptor?
    /// The path it was opened from (nil for an adopted descriptor).
    public let path: String?
    /// The configured baud rate.
    public let baudRate: UInt32
    /// Whether hardware flow control (`CRTSCTS`) is on.
    public let hardwareFlowControl: Bool

    /// Result of `read`.
    public enum ReadResult: Sendable, Equatable {
        /// `count` bytes (> 0) were copied to the buffer.
        case bytes(Int)
        /// Nothing to read now.
        case noData
        /// The device is gone or hung up (EIO, ENXIO, ENODEV, EBADF, or POLLHUP): reopen it.
        case down
    }

    /// Result of `write`.
    public enum WriteResult: Sendable, Equatable {
        /// `count` bytes were queued (0 when the output queue is full: the caller drops
        /// the rest and counts it).
        case written(Int)
        /// The device is gone or hung up: reopen it.
        case down
    }

    /// Opens `path` and configures it. Throws `EINVAL` for an unsupported baud rate and
    /// `ENOTTY` if `path` is not a terminal.
    ///
    /// The corresponding C functions are `open`, `tcgetattr`, `cfmakeraw`, `cfsetispeed`,
    /// `cfsetospeed` and `tcsetattr`.
    public init(path: String, baudRate: UInt32 = 115200, hardwareFlowControl: Bool = false) throws(Errno) {
        self.path = path
        self.baudRate = baudRate
        self.hardwareFlowControl = hardwareFlowControl
        self.fileDescriptor = try Self.openConfigured(path: path, baudRate: baudRate, rtscts: hardwareFlowControl)
    }

    /// Configures an already open terminal descriptor (a pty master, for instance) and takes
    /// ownership of it. It must be non-blocking for `read`/`write` to never block.
    public init(adopting fd: FileDescriptor, baudRate: UInt32 = 115200, hardwareFlowControl: Bool = false) throws(Errno) {
        try Self.configure(fd, baudRate: baudRate, rtscts: hardwareFlowControl)
        self.path = nil
        self.baudRate = baudRate
        self.hardwareFlowControl = hardwareFlowControl
        self.fileDescriptor = fd
    }

    private static func openConfigured(path: String, baudRate: UInt32, rtscts: Bool) throws(Errno) -> FileDescriptor {
        guard cshaolin_baud_constant(baudRate) != 0 else { throw Errno.invalidArgument }
        var fd: CInt
        repeat {
            fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        } while fd < 0 && cshaolin_errno() == EINTR
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(Errno) {
            try configure(descriptor, baudRate: baudRate, rtscts: rtscts)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        return descriptor
    }

    private static func configure(_ fd: FileDescriptor, baudRate: UInt32, rtscts: Bool) throws(Errno) {
        let speed = cshaolin_baud_constant(baudRate)
        guard speed != 0 else { throw Errno.invalidArgument }
        if isatty(fd.rawValue) == 0 { throw Errno(rawValue: cshaolin_errno()) }
        if cshaolin_termios_configure_raw(fd.rawValue, speed, rtscts ? 1 : 0) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// Whether the current termios settings are raw 8N1 at `baudRate` with the configured
    /// flow control (for checks and tests).
    public func isConfiguredAsRequested() throws(Errno) -> Bool {
        guard let fd = fileDescriptor else { throw Errno.badFileDescriptor }
        var ispeed: speed_t = 0, ospeed: speed_t = 0
        var rtscts: CInt = 0, raw: CInt = 0
        if cshaolin_termios_get(fd.rawValue, &ispeed, &ospeed, &rtscts, &raw) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
        let want = cshaolin_baud_constant(baudRate)
        return ispeed == want && ospeed == want && (rtscts != 0) == hardwareFlowControl && raw != 0
    }

    @inline(__always)
    static func isGone(_ e: CInt) -> Bool {
        e == EIO || e == ENXIO || e == ENODEV || e == EBADF
    }

    /// Reads available bytes into `buffer`. Retries on EINTR; does not allocate.
    ///
    /// The corresponding C function is `read` (plus `poll` with a zero timeout when it
    /// returns 0, to detect a hang-up).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> ReadResult {
        guard let fd = fileDescriptor else { return .down }
        guard buffer.count > 0 else { return .noData }
        while true {
            let n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return Self.hungUp(fd) ? .down : .noData }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .noData }
            if Self.isGone(e) { return .down }
            throw Errno(rawValue: e)
        }
    }

    /// Writes as much of `bytes` as the output queue takes now. Retries on EINTR;
    /// does not allocate.
    ///
    /// The corresponding C function is `write`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> WriteResult {
        guard let fd = fileDescriptor else { return .down }
        guard bytes.count > 0 else { return .written(0) }
        while true {
            let n = Glibc.write(fd.rawValue, bytes.baseAddress, bytes.count)
            if n >= 0 { return .written(n) }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .written(0) }
            if Self.isGone(e) { return .down }
            throw Errno(rawValue: e)
        }
    }

    private static func hungUp(_ fd: FileDescriptor) -> Bool {
        var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, 0)
        if r < 0 { return cshaolin_errno() == EBADF }
        return p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
    }

    /// Closes the descriptor (if open) and opens `path` again with the same settings.
    /// Throws (ENOENT while a pty cable is being re-created, for instance) and leaves
    /// the port closed, so it can be retried later. An adopted descriptor cannot be
    /// reopened (`EBADF`).
    public mutating func reopen() throws(Errno) {
        guard let path else { throw Errno.badFileDescriptor }
        close()
        fileDescriptor = try Self.openConfigured(path: path, baudRate: baudRate, rtscts: hardwareFlowControl)
    }

    /// Discards bytes received but not read and bytes written but not sent.
    ///
    /// The corresponding C function is `tcflush(TCIOFLUSH)`.
    public func flush() throws(Errno) {
        guard let fd = fileDescriptor else { throw Errno.badFileDescriptor }
        if tcflush(fd.rawValue, TCIOFLUSH) < 0 { throw Errno(rawValue: cshaolin_errno()) }
    }

    /// Closes the descriptor (idempotent).
    public mutating func close() {
        if let fd = fileDescriptor { _ = Glibc.close(fd.rawValue) }
        fileDescriptor = nil
    }
}
