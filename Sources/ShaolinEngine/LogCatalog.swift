// Stable MESSAGE_IDs: one fixed 128-bit id (32 lowercase hex digits, journald's form) per key
// event, so `journalctl MESSAGE_ID=…` finds an event whatever its wording. Never change an id;
// add new ones (generate with `journalctl --new-id128`). Documented in docs/logging.md.

public enum LogCatalog {
    /// SHAOLIN_EVENT name → MESSAGE_ID.
    public static let messageIDs: [String: String] = [
        "START": "66c246b9cff1434fbc29d8a99181c375",
        "LEAVE": "e42dbb53f667472dbfdbe2885d11cb04",
        "START_FAILED": "83d92e39d6eb42548f161bd479b21054",
        "ROLE_CHANGE": "776ec257992f48d682dcf9fa611756e2",
        "TAKEOVER": "8919511c52214815aae3f50bd2862cda",
        "PEER_DEAD": "3e8c6202141944f0ba9bcb64bd728c3b",
        "PEER_ALIVE": "558d39a5faf54b30943617f4a9096890",
        "PEER_RESTARTED": "75921ea757cd48ec8c53e2d44750c525",
        "LINK_DOWN": "517aac046ddb444ab64d55231a0cb91d",
        "LINK_UP": "b0f8a4e1669749b3bf9ea64a6508cc08",
        "LINK_LATE": "c08101a3f3f44b5db53a96cdd38ec78b",
        "FENCE_START": "0210927098ed4ddb8be0b69ca77e7804",
        "FENCE_CONFIRMED": "55f4f9e4ed354eae8e1249bcd1391a8a",
        "FENCE_FAILED": "6a297fcf403e4d15856243f65dc2c2a8",
        "FENCE_RETRY": "5952f253f8e04a61acde2abaf1a4286b",
        "FENCE_MANUAL": "926b2227b7a040f5af2452c600451e3f",
        "WATCHDOG_ARMED": "9815c7e945c14eb9a872d702d744beab",
        "WATCHDOG_DISARMED": "bbecef2594204bbfac53f4a15b805268",
        "WATCHDOG_NONE": "f0466c9245154fc287799b8bcbb80493",
        "CONFIG_RELOADED": "3902cce53ef84771ae177ffee9b52a01",
        "CONFIG_REJECTED": "9d8cfb04d0b54dcab7885483060a1e75",
        "DUAL_ACTIVE": "b48e0232e0df45a1bccd73ca64d185d9",
        "STAND_DOWN": "39cbabb5b4224647aba2ef571c220525",
        "HANDOVER_DONE": "6134b73511034068882ca33a0fb3d388",
        "OWN_STALL": "164a1c30483e4212a884605ff75615fe",
        "LOG_DROPPED": "63e2b255d8e54118a1829c1fa97c05cb",
        "EVENTS_DROPPED": "c9294210dc1544018e79321d84d03023",
        "CAPABILITIES_DROPPED": "3a5782eecd79413caca4e4afafc14cef",
        "RT_DEGRADED": "615d6ef1c09d435cabb27cca304b2f2f",
    ]

    public static func messageID(for event: String) -> String? { messageIDs[event] }
}
