// Heartbeat links as the real-time loop sees them: a file descriptor to wait on, a way to send
// one encoded frame, a way to drain every frame that has arrived, and the physical state.
// Everything here runs on the real-time thread: no allocation after `init`.

import ShaolinCore
import ShaolinLinux
import SystemPackage

public protocol HeartbeatLink: AnyObject {
    /// Link id as carried in frames (index in the configuration).
    var id: UInt8 { get }
    var name: String { get }
    /// The descriptor to wait on, or nil while the link is down and closed.
    var descriptor: FileDescriptor? { get }
    /// Physical state: false after ENETDOWN, a vanished serial device …
    var carrierUp: Bool { get }
    /// Sends one encoded frame. Never blocks: a full buffer drops the frame and counts it.
    func send(_ frame: UnsafeRawBufferPointer)
    /// How the loop registers `descriptor` in epoll: level-triggered input, or edge-triggered
    /// for links whose empty reads can block (serial, see `SerialLink.drain`).
    var pollEvents: EpollEvents { get }
    /// Calls `body` for every complete frame that has arrived. `ready` says whether epoll reported
    /// the descriptor in this wake-up; a link may skip reading when it is false.
    func drain(ready: Bool, _ body: (UnsafeRawBufferPointer) -> Void)
    /// While `drain` calls its body: the kernel's receive time of that frame, in nanoseconds on
    /// CLOCK_REALTIME (socket timestamps), or 0 when the link has none (serial lines).
    var receivedAt: Int64 { get }
    /// Re-checks the physical state (called on ticks); may reopen a device.
    /// - Returns: true when the descriptor changed (the loop re-registers it).
    func refresh(now: Int64) -> Bool
    /// Frames dropped locally (full buffers) and transmit errors.
    var sendDrops: UInt64 { get }
    /// Link-level rejects (serial framing errors) that never reached the codec.
    var framingRejects: UInt64 { get }
}

/// Raw Ethernet: AF_PACKET with our own EtherType, no IP needed.
public final class EthernetLink: HeartbeatLink {
    public let id: UInt8
    public let name: String
    let socket: PacketSocket
    let peer: ShaolinLinux.MACAddress
    let buffer: UnsafeMutableRawBufferPointer
    public private(set) var carrierUp = true
    public private(set) var sendDrops: UInt64 = 0
    public private(set) var receivedAt: Int64 = 0
    public var framingRejects: UInt64 { 0 }
    public var descriptor: FileDescriptor? { socket.fileDescriptor }
    public var pollEvents: EpollEvents { .input }

    public init(id: UInt8, name: String, interface: String, etherType: UInt16, peer: ShaolinLinux.MACAddress) throws(LinkError) {
        guard let ifname = InterfaceName(interface) else { throw LinkError(link: name, message: "invalid interface name '\(interface)'") }
        do {
            socket = try PacketSocket.open(interface: ifname, etherType: etherType)
        } catch {
            throw LinkError(link: name, message: "cannot open AF_PACKET socket on \(interface): \(error)" +
                            (error == .notPermitted ? " (needs CAP_NET_RAW)" : ""))
        }
        self.id = id
        self.name = name
        self.peer = peer
        buffer = .allocate(byteCount: 2048, alignment: 16)
        carrierUp = (try? socket.linkFlags().isOperational) ?? false
    }

    deinit { buffer.deallocate() }

    public func send(_ frame: UnsafeRawBufferPointer) {
        switch (try? socket.send(frame, to: peer)) ?? .dropped {
        case .sent: break
        case .linkDown: carrierUp = false; sendDrops &+= 1
        case .dropped: sendDrops &+= 1
        }
    }

    /// Reads until the socket is empty on every wake-up (an empty AF_PACKET receive returns
    /// EAGAIN at once), so frames queued before a timer wake-up are always seen first.
    public func drain(ready: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        while true {
            switch (try? socket.receive(into: buffer, receivedAt: &receivedAt)) ?? .noData {
            case .frame(let length, _, let truncated):
                carrierUp = true
                // A truncated read is passed on at its real length so the codec counts it oversized.
                body(UnsafeRawBufferPointer(rebasing: buffer[0..<(truncated ? buffer.count : length)]))
            case .noData: return
            case .linkDown: carrierUp = false; return
            }
        }
    }

    public func refresh(now: Int64) -> Bool {
        if let flags = try? socket.linkFlags() { carrierUp = flags.isOperational }
        return false
    }
}

/// Raw serial line: termios 8N1, COBS framing with CRC-16, non-blocking writes.
public final class SerialLink: HeartbeatLink {
    public let id: UInt8
    public let name: String
    let path: String
    let baud: UInt32
    let flowControl: Bool
    var port: SerialPort?
    var decoder = SerialFrameDecoder()
    let readBuffer: UnsafeMutableRawBufferPointer
    let writeBuffer: UnsafeMutableRawBufferPointer
    var nextReopen: Int64 = 0
    public private(set) var sendDrops: UInt64 = 0
    /// A tty keeps no receive times.
    public var receivedAt: Int64 { 0 }
    public var framingRejects: UInt64 { decoder.rejects.total }
    public var carrierUp: Bool { port != nil }
    public var descriptor: FileDescriptor? { port?.fileDescriptor ?? nil }
    public var pollEvents: EpollEvents { [.input, .edgeTriggered] }

    public init(id: UInt8, name: String, device: String, baud: Int, flowControl: Bool) throws(LinkError) {
        self.id = id
        self.name = name
        self.path = device
        self.baud = UInt32(baud)
        self.flowControl = flowControl
        readBuffer = .allocate(byteCount: 4096, alignment: 16)
        writeBuffer = .allocate(byteCount: SerialFraming.maxEncodedFrameCount, alignment: 16)
        do {
            port = try SerialPort(path: device, baudRate: UInt32(baud), hardwareFlowControl: flowControl)
        } catch {
            // A missing cable at start is not fatal: the link starts down and is retried.
            port = nil
        }
    }

    deinit { readBuffer.deallocate(); writeBuffer.deallocate() }

    public func send(_ frame: UnsafeRawBufferPointer) {
        guard let p = port else { sendDrops &+= 1; return }
        guard let n = SerialFraming.encode(frame, into: writeBuffer) else { sendDrops &+= 1; return }
        switch (try? p.write(UnsafeRawBufferPointer(rebasing: writeBuffer[0..<n]))) ?? .down {
        case .written(let w): if w < n { sendDrops &+= 1 }
        case .down: markDown()
        }
    }

    /// Reads only when epoll reported the tty (edge-triggered), and stops at the first short
    /// read instead of reading on until EAGAIN. Reason: on a tty, a read (or a level-triggered
    /// epoll re-check) that finds no data waits in the kernel (`tty_buffer_flush_work`) for the
    /// flip-buffer worker, a SCHED_OTHER kworker; under load that blocked the real-time loop for
    /// milliseconds (benchmarks/wakeup-lateness.py, docs/benchmarks.md). A short read means the
    /// line discipline's buffer is empty; bytes that arrive later raise a new edge.
    public func drain(ready: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard ready else { return }
        while let p = port {
            switch (try? p.read(into: readBuffer)) ?? .down {
            case .bytes(let n):
                decoder.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])) { frame in body(frame) }
                if n < readBuffer.count { return }
            case .noData: return
            case .down: markDown(); return
            }
        }
    }

    public func refresh(now: Int64) -> Bool {
        guard port == nil, now >= nextReopen else { return false }
        nextReopen = now + 1_000_000_000
        if let p = try? SerialPort(path: path, baudRate: baud, hardwareFlowControl: flowControl) {
            port = p
            decoder = SerialFrameDecoder()
            return true
        }
        return false
    }

    func markDown() {
        if var p = port { p.close() }
        port = nil
    }

    /// Whether `keepalive` leaves room for one frame at this baud (8N1: 10 bits per byte).
    public static func frameTimeMilliseconds(baud: Int) -> Double {
        Double(SerialFraming.maxEncodedCount(payloadCount: FrameLayout.size) * 10 * 1000) / Double(baud)
    }
}

public struct LinkError: Error, CustomStringConvertible {
    public var link: String
    public var message: String
    public var description: String { "link \(link): \(message)" }
}
