// One client of the control server: its socket, bounded input and output buffers, and where
// it stands (authenticated, commands waiting for the engine, closing).

import ShaolinCore
import ShaolinLinux
import SystemPackage

final class ControlConnection {
    let id: UInt64
    let fd: FileDescriptor
    /// Numeric peer address ("unix" for the Unix socket).
    let address: String
    let isTCP: Bool
    /// Unix: credentials checked at accept. TCP: after a good `auth`.
    var authenticated: Bool
    /// TCP: the challenge sent in the hello.
    var challenge: [UInt8] = []
    let credentials: PeerCredentials?

    /// Received bytes not yet split into lines (bounded: reading stops at the line limit).
    var input: [UInt8] = []
    /// Skipping the rest of an over-long line.
    var discarding = false
    var output: [UInt8] = []
    var outputOffset = 0
    /// Commands submitted to the engine and not yet answered.
    var pendingCommands = 0
    /// The client closed its sending half: answer what is pending, then close.
    var readClosed = false
    /// Close as soon as the output is written (after an error that ends the session).
    var closeAfterFlush = false
    var closed = false
    var registered: EpollEvents = []

    let openedAt: Int64
    var lastActivity: Int64
    /// Last time output made progress (or was empty): a client that stops reading is cut
    /// off when its output stalls for too long.
    var lastWriteProgress: Int64
    var requests: UInt64 = 0

    init(id: UInt64, fd: FileDescriptor, address: String, isTCP: Bool, credentials: PeerCredentials?, now: Int64) {
        self.id = id
        self.fd = fd
        self.address = address
        self.isTCP = isTCP
        self.credentials = credentials
        authenticated = !isTCP
        openedAt = now
        lastActivity = now
        lastWriteProgress = now
        input.reserveCapacity(1024)
    }

    var pendingOutput: Int { output.count - outputOffset }

    func queue(_ text: String) {
        output.append(contentsOf: text.utf8)
    }

    /// Writes what the socket takes now. Returns false when the connection is gone.
    func flush(now: Int64) -> Bool {
        while outputOffset < output.count {
            let r = output.withUnsafeBytes { b in
                StreamSocket.write(fd, UnsafeRawBufferPointer(rebasing: b[outputOffset...]))
            }
            switch r {
            case .transferred(let n):
                outputOffset += n
                lastWriteProgress = now
            case .wouldBlock:
                compact()
                return true
            case .closed, .failed:
                return false
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 65_536)
        outputOffset = 0
        lastWriteProgress = now
        return true
    }

    private func compact() {
        if outputOffset > 65_536 && outputOffset * 2 > output.count {
            output.removeFirst(outputOffset)
            outputOffset = 0
        }
    }

    /// Takes the complete lines out of `input`, handing each (without the newline and a
    /// trailing CR) to `handle`, while `mayContinue` holds. Over-long lines are reported
    /// with `tooLong` and skipped to their end. `atEnd`: the client closed; a final line
    /// without a newline counts too.
    func takeLines(maxLine: Int, atEnd: Bool, mayContinue: () -> Bool,
                   handle: (UnsafeBufferPointer<UInt8>) -> Void, tooLong: () -> Void) {
        var start = 0
        let newline = UInt8(ascii: "\n")
        input.withUnsafeBufferPointer { all in
            while start < all.count && mayContinue() {
                var nl = start
                while nl < all.count && all[nl] != newline { nl += 1 }
                let found = nl < all.count
                if discarding {
                    if found { discarding = false; start = nl + 1; continue }
                    start = all.count
                    break
                }
                if !found {
                    if nl - start > maxLine {
                        tooLong()
                        discarding = true
                        start = all.count
                    } else if atEnd {
                        handle(UnsafeBufferPointer(rebasing: all[start..<nl]))
                        start = all.count
                    }
                    break
                }
                var end = nl
                if end > start && all[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if end - start > maxLine {
                    tooLong()
                } else {
                    handle(UnsafeBufferPointer(rebasing: all[start..<end]))
                }
                start = nl + 1
            }
        }
        if start > 0 { input.removeFirst(start) }
    }
}
