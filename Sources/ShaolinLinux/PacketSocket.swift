// AF_PACKET: raw Ethernet frames of one EtherType on one interface (the heartbeat link).
import CShaolin
import Glibc
import SystemPackage

/// An `AF_PACKET` socket bound to one interface and one EtherType.
///
/// Design choices:
/// - **`SOCK_DGRAM`**: the kernel builds the Ethernet header on send (from the destination
///   MAC and EtherType given to `sendto`) and strips it on receive, reporting the source MAC in
///   `sockaddr_ll`. Payloads are the frame's data only; the minimum Ethernet frame size is
///   padded by the driver.
/// - **Kernel-side filtering, twice**: the socket is created with protocol 0 (receives
///   nothing), gets a classic BPF filter accepting only `skb->protocol == etherType`, and is
///   then bound to (interface, EtherType). The bind alone already limits delivery; the filter
///   guards against a later re-bind mistake.
/// - **Link state is a result, not an error**: the kernel reports an interface going down as
///   `ENETDOWN` (once, on the next receive) and refuses sends with `ENETDOWN`/`ENXIO` while it
///   is down. These come back as `.linkDown`. The socket stays bound: when the interface comes
///   back up the kernel re-attaches it and frames flow again, without reopening. (If the
///   interface is *deleted*, the socket is orphaned; reopen it once the interface exists again.)
///
/// The send and receive paths do not allocate.
public struct PacketSocket: Sendable {
    /// The socket (register it with `Epoll` for `.input`).
    public let fileDescriptor: FileDescriptor
    /// The interface it is bound to.
    public let interface: InterfaceName
    /// Its index in the socket's network namespace.
    public let interfaceIndex: CInt
    /// The EtherType in host byte order (e.g. 0x88B5).
    public let etherType: UInt16

    /// Result of `receive`.
    public enum ReceiveResult: Sendable, Equatable {
        /// A frame of `length` bytes was copied to the buffer (truncated to the buffer if
        /// `truncated`: `length` is then the frame's real size).
        case frame(length: Int, source: MACAddress, truncated: Bool)
        /// Nothing to read now (EAGAIN).
        case noData
        /// The interface is down or gone (ENETDOWN, ENXIO, ENODEV).
        case linkDown
    }

    /// Result of `send`.
    public enum SendResult: Sendable, Equatable {
        /// The frame was queued to the interface.
        case sent
        /// The interface is down or gone (ENETDOWN, ENXIO, ENODEV).
        case linkDown
        /// The socket's or device's queue is full (EAGAIN, ENOBUFS): the frame was dropped.
        case dropped
    }

    /// Opens a non-blocking, close-on-exec `AF_PACKET`/`SOCK_DGRAM` socket on `interface`
    /// for `etherType` (host order, e.g. `0x88B5`) in the calling thread's network namespace.
    /// Needs `CAP_NET_RAW` (EPERM otherwise).
    ///
    /// Every received frame is stamped with the kernel's receive time (see
    /// `receive(into:receivedAt:)`).
    ///
    /// The corresponding C functions are `socket(AF_PACKET, SOCK_DGRAM, 0)`,
    /// `setsockopt(SO_ATTACH_FILTER)`, `setsockopt(SO_TIMESTAMPNS)` and `bind` with a
    /// `sockaddr_ll`.
    public static func open(interface: InterfaceName, etherType: UInt16) throws(Errno) -> PacketSocket {
        let fd = socket(AF_PACKET, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(Errno) {
            let index = try Interface.index(of: interface, using: descriptor)
            if cshaolin_attach_ethertype_filter(fd, etherType) < 0 { throw Errno(rawValue: cshaolin_errno()) }
            if cshaolin_enable_rx_timestamps(fd) < 0 { throw Errno(rawValue: cshaolin_errno()) }
            if cshaolin_packet_bind(fd, index, etherType) < 0 { throw Errno(rawValue: cshaolin_errno()) }
            return PacketSocket(fileDescriptor: descriptor, interface: interface, interfaceIndex: index, etherType: etherType)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    private init(fileDescriptor: FileDescriptor, interface: InterfaceName, interfaceIndex: CInt, etherType: UInt16) {
        self.fileDescriptor = fileDescriptor
        self.interface = interface
        self.interfaceIndex = interfaceIndex
        self.etherType = etherType
    }

    @inline(__always)
    static func isLinkDown(_ e: CInt) -> Bool {
        e == ENETDOWN || e == ENXIO || e == ENODEV
    }

    /// Sends `payload` to `destination` with this socket's EtherType. Retries on EINTR;
    /// does not allocate. Throws for anything other than link-down or a full queue
    /// (EMSGSIZE if the payload exceeds the MTU, for instance).
    ///
    /// The corresponding C function is `sendto` with a `sockaddr_ll`.
    public func send(_ payload: UnsafeRawBufferPointer, to destination: MACAddress) throws(Errno) -> SendResult {
        while true {
            let n = destination.withBytes { mac in
                cshaolin_packet_sendto(fileDescriptor.rawValue, interfaceIndex, etherType, mac, payload.baseAddress, payload.count)
            }
            if n >= 0 { return .sent }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if Self.isLinkDown(e) { return .linkDown }
            if e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS { return .dropped }
            throw Errno(rawValue: e)
        }
    }

    /// Receives one frame into `buffer`. Frames this host sent itself (`PACKET_OUTGOING`)
    /// are skipped. Retries on EINTR; does not allocate.
    ///
    /// The corresponding C function is `recvmsg` with a `sockaddr_ll`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> ReceiveResult {
        var ignored: Int64 = 0
        return try receive(into: buffer, receivedAt: &ignored)
    }

    /// Receives one frame into `buffer` and sets `receivedAt` to the kernel's receive time of
    /// that frame in nanoseconds on CLOCK_REALTIME (the clock socket timestamps use), or 0
    /// when the kernel attached none. Frames this host sent itself (`PACKET_OUTGOING`) are
    /// skipped. Retries on EINTR; does not allocate.
    ///
    /// The corresponding C function is `recvmsg` with a `sockaddr_ll` and `SCM_TIMESTAMPNS`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, receivedAt: inout Int64) throws(Errno) -> ReceiveResult {
        var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        var type: UInt16 = 0
        var packetType: UInt8 = 0
        while true {
            let n = withUnsafeMutableBytes(of: &mac) { raw in
                cshaolin_packet_recvfrom(fileDescriptor.rawValue, buffer.baseAddress, buffer.count,
                                         raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &type, &packetType, &receivedAt)
            }
            if n >= 0 {
                if packetType == CSHAOLIN_PACKET_OUTGOING || type != etherType { continue }
                return .frame(length: n, source: MACAddress(mac.0, mac.1, mac.2, mac.3, mac.4, mac.5),
                              truncated: n > buffer.count)
            }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .noData }
            if Self.isLinkDown(e) { return .linkDown }
            throw Errno(rawValue: e)
        }
    }

    /// This interface's MAC address (the source of the frames we send).
    ///
    /// The corresponding C function is `ioctl(SIOCGIFHWADDR)`.
    public func macAddress() throws(Errno) -> MACAddress {
        try Interface.macAddress(of: interface, using: fileDescriptor)
    }

    /// The interface's flags: `.up` (administrative) and `.running` (carrier). Does not allocate.
    /// ENODEV means the interface was deleted.
    ///
    /// The corresponding C function is `ioctl(SIOCGIFFLAGS)`.
    public func linkFlags() throws(Errno) -> InterfaceFlags {
        try Interface.flags(of: interface, using: fileDescriptor)
    }

    /// Number of classic BPF instructions attached to the socket (4 for the EtherType filter).
    ///
    /// The corresponding C function is `getsockopt(SO_GET_FILTER)`.
    public func kernelFilterLength() throws(Errno) -> Int {
        let n = cshaolin_socket_filter_length(fileDescriptor.rawValue)
        if n < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return Int(n)
    }

    /// Closes the socket.
    public func close() throws(Errno) {
        try closeDescriptor(fileDescriptor)
    }
}
