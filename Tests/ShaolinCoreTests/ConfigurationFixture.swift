// The configuration text the core's configuration tests build on.

/// A minimal valid configuration file (one Ethernet link, a watchdog), shared by the
/// configuration tests; they append tables to it or replace lines of it.
let minimalConfigurationText = """
    [cluster]
    id = 42

    [node]
    name = "alpha"
    id = 1

    [peer]
    name = "beta"
    id = 2

    [[link]]
    name = "eth1-hb"
    type = "ethernet"
    interface = "eth1"
    peer_mac = "52:54:00:12:34:56"

    [watchdog]
    device = "/dev/watchdog"
    """
