// libsystemd, linked dynamically (Debian ships no libsystemd.a): the journal's native
// protocol client (sd_journal_sendv) and the service manager notification calls (sd_notify,
// sd_watchdog_enabled). Variadic sd_journal_send cannot be called from Swift; sendv can.
#pragma once
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
