import Foundation
import Glibc
import ShaolinLinux
import SystemPackage
import Testing

@Suite struct InterfaceTests {
    @Test func interfaceNamesAreValidated() {
        #expect(InterfaceName("") == nil)
        #expect(InterfaceName("abcdefghijklmnop") == nil)  // 16 bytes
        #expect(InterfaceName("a/b") == nil)
        #expect(InterfaceName("abcdefghijklmno")?.description == "abcdefghijklmno")
        #expect(InterfaceName("eth0") == InterfaceName("eth0"))
        #expect(InterfaceName("eth0") != InterfaceName("eth1"))
    }

    @Test func macAddressParsesAndPrints() throws {
        let mac = try #require(MACAddress("02:AB:cd:00:10:ff"))
        #expect(mac == MACAddress(0x02, 0xab, 0xcd, 0x00, 0x10, 0xff))
        #expect(mac.description == "02:ab:cd:00:10:ff")
        #expect(MACAddress("02-ab-cd-00-10-ff") == mac)
        #expect(MACAddress("02:ab:cd:00:10") == nil)
        #expect(MACAddress("02:ab:cd:00:10:ff:00") == nil)
        #expect(MACAddress("0g:ab:cd:00:10:ff") == nil)
        #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
    }

    @Test func loopbackQueries() throws {
        let lo = try #require(InterfaceName("lo"))
        #expect(try Interface.index(of: lo) == CInt(if_nametoindex("lo")))
        #expect(try Interface.macAddress(of: lo) == .zero)
        #expect(try Interface.flags(of: lo).contains(.up))
        let missing = try #require(InterfaceName("nosuch0"))
        #expect(throws: Errno.operationNotSupportedByDevice) { try Interface.index(of: missing) }
    }
}

@Suite struct WatchdogTests {
    @Test func characterDeviceThatIsNotAWatchdogIsRefused() {
        do throws(WatchdogError) {
            _ = try Watchdog.open(path: "/dev/null")
            Issue.record("/dev/null accepted as a watchdog")
        } catch {
            guard case .notAWatchdog(let path, let e) = error else {
                Issue.record("unexpected \(error)"); return
            }
            #expect(path == "/dev/null")
            #expect(e == .inappropriateIOCTLForDevice)
            #expect(error.description.contains("not a watchdog"))
        }
    }

    @Test func regularFileIsRefusedWithoutOpening() throws {
        let path = "/tmp/shaolin-wdt-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        defer { unlink(path) }
        #expect(throws: WatchdogError.notACharacterDevice(path: path)) { try Watchdog.open(path: path) }
        // Nothing was written to it (no magic 'V').
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
        #expect(throws: WatchdogError.notACharacterDevice(path: "/tmp")) { try Watchdog.open(path: "/tmp") }
    }

    @Test func missingDeviceSaysSo() {
        let path = "/dev/shaolin-no-such-watchdog"
        #expect(throws: WatchdogError.notFound(path: path, .noSuchFileOrDirectory)) { try Watchdog.open(path: path) }
        #expect(WatchdogError.notFound(path: path, .noSuchFileOrDirectory).description.contains("driver"))
    }

    @Test func busyMessageNamesTheUsualHolders() {
        let text = WatchdogError.busy(path: "/dev/watchdog0").description
        #expect(text.contains("RuntimeWatchdogSec"))
        #expect(text.contains("watchdog daemon"))
    }
}
