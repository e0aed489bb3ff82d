// Network interfaces: index, hardware address and flags by name.
import CShaolin
import Glibc
import SystemPackage

/// A 6-byte Ethernet (MAC) address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var b0, b1, b2, b3, b4, b5: UInt8

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        (self.b0, self.b1, self.b2, self.b3, self.b4, self.b5) = (b0, b1, b2, b3, b4, b5)
    }

    /// The broadcast address ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
    /// The all-zero address.
    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)

    /// Parses "aa:bb:cc:dd:ee:ff" (or with '-'); nil if malformed.
    public init?(_ text: String) {
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        var index = 0
        for part in text.split(separator: ":", omittingEmptySubsequences: false).flatMap({ $0.split(separator: "-", omittingEmptySubsequences: false) }) {
            guard part.count == 2, let v = UInt8(part, radix: 16), index < 6 else { return nil }
            withUnsafeMutableBytes(of: &bytes) { $0[index] = v }
            index += 1
        }
        guard index == 6 else { return nil }
        self.init(bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5)
    }

    /// Lower-case "aa:bb:cc:dd:ee:ff".
    public var description: String {
        let hex: [Character] = Array("0123456789abcdef")
        var s = ""
        for (i, b) in [b0, b1, b2, b3, b4, b5].enumerated() {
            if i > 0 { s.append(":") }
            s.append(hex[Int(b >> 4)])
            s.append(hex[Int(b & 15)])
        }
        return s
    }

    @usableFromInline
    init(pointer p: UnsafePointer<UInt8>) {
        self.init(p[0], p[1], p[2], p[3], p[4], p[5])
    }

    @usableFromInline
    func withBytes<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        var copy = self
        return withUnsafeBytes(of: &copy) { body($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }
}

/// Link-level flags of an interface (`SIOCGIFFLAGS`).
public struct InterfaceFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Administratively up (`IFF_UP`, `ip link set … up`).
    public static let up = InterfaceFlags(rawValue: CSHAOLIN_IFF_UP)
    /// Operationally up (`IFF_RUNNING`: carrier present, ready to pass packets).
    public static let running = InterfaceFlags(rawValue: CSHAOLIN_IFF_RUNNING)

    /// Up and running: frames can flow.
    public var isOperational: Bool { contains([.up, .running]) }
}

/// An interface name stored inline (at most 15 bytes, `IFNAMSIZ` - 1), so the real-time
/// path can pass it to the kernel without building a C string.
public struct InterfaceName: Sendable, Hashable, CustomStringConvertible {
    @usableFromInline var bytes: (UInt64, UInt64) = (0, 0)  // 16 bytes, NUL-terminated

    /// nil if `name` is empty, longer than 15 bytes, or contains '/', ' ' or NUL.
    public init?(_ name: String) {
        let utf8 = Array(name.utf8)
        guard !utf8.isEmpty, utf8.count < Int(CSHAOLIN_IFNAMSIZ),
              !utf8.contains(0), !utf8.contains(UInt8(ascii: "/")), !utf8.contains(UInt8(ascii: " "))
        else { return nil }
        withUnsafeMutableBytes(of: &bytes) { raw in
            for (i, b) in utf8.enumerated() { raw[i] = b }
        }
    }

    public var description: String {
        withCString { String(cString: $0) }
    }

    public static func == (a: InterfaceName, b: InterfaceName) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0)
        hasher.combine(bytes.1)
    }

    /// Calls `body` with the NUL-terminated name. Does not allocate.
    @inlinable
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var copy = bytes
        return try withUnsafeBytes(of: &copy) { try body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }
}

/// Interface queries in the calling thread's network namespace.
public enum Interface {
    /// The interface index of `name` (ENODEV if there is no such interface).
    ///
    /// The corresponding C function is `ioctl(SIOCGIFINDEX)`.
    public static func index(of name: InterfaceName) throws(Errno) -> CInt {
        try withQuerySocket { fd throws(Errno) in try index(of: name, using: fd) }
    }

    /// The hardware (MAC) address of `name`.
    ///
    /// The corresponding C function is `ioctl(SIOCGIFHWADDR)`.
    public static func macAddress(of name: InterfaceName) throws(Errno) -> MACAddress {
        try withQuerySocket { fd throws(Errno) in try macAddress(of: name, using: fd) }
    }

    /// The link flags of `name` (`.up`, `.running`).
    ///
    /// The corresponding C function is `ioctl(SIOCGIFFLAGS)`.
    public static func flags(of name: InterfaceName) throws(Errno) -> InterfaceFlags {
        try withQuerySocket { fd throws(Errno) in try flags(of: name, using: fd) }
    }

    /// Like `index(of:)`, through an existing socket (in that socket's namespace).
    public static func index(of name: InterfaceName, using socket: FileDescriptor) throws(Errno) -> CInt {
        var index: CInt = 0
        let r = name.withCString { cshaolin_if_index(socket.rawValue, $0, &index) }
        if r < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return index
    }

    /// Like `macAddress(of:)`, through an existing socket (in that socket's namespace).
    public static func macAddress(of name: InterfaceName, using socket: FileDescriptor) throws(Errno) -> MACAddress {
        var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        let r = withUnsafeMutableBytes(of: &mac) { raw in
            name.withCString { cshaolin_if_hwaddr(socket.rawValue, $0, raw.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        }
        if r < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return MACAddress(mac.0, mac.1, mac.2, mac.3, mac.4, mac.5)
    }

    /// Like `flags(of:)`, through an existing socket (in that socket's namespace). Does not allocate.
    public static func flags(of name: InterfaceName, using socket: FileDescriptor) throws(Errno) -> InterfaceFlags {
        var flags: UInt32 = 0
        let r = name.withCString { cshaolin_if_flags(socket.rawValue, $0, &flags) }
        if r < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return InterfaceFlags(rawValue: flags)
    }

    private static func withQuerySocket<R>(_ body: (FileDescriptor) throws(Errno) -> R) throws(Errno) -> R {
        let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        defer { _ = Glibc.close(fd) }
        return try body(FileDescriptor(rawValue: fd))
    }
}
