# shaolin: build, install and remove.
#
#   make                      build shaolind (Swift runtime linked statically: it runs in the
#                             initramfs) and shaolinctl, release mode
#   make install              install everything, rebuild the initramfs, add the GRUB entries
#   make uninstall            remove everything install added, rebuild the initramfs without
#                             shaolin, remove the GRUB entries (the previous boot setup)
#   make install DESTDIR=/tmp/x   stage into a folder: the boot setup is NOT updated then
#                             (update-initramfs/update-grub act on the running system only)
# Configuration files (/etc/shaolin/*.toml, keys) are never overwritten or removed.
SWIFT       ?= swift
DESTDIR     ?=
PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib/shaolin
DOCDIR      ?= $(PREFIX)/share/doc/shaolin
INITRAMFS   ?= $(PREFIX)/share/initramfs-tools
UNITDIR     ?= /lib/systemd/system
GRUBDIR     ?= /etc/grub.d
SYSCONFDIR  ?= /etc/shaolin
BUILD       ?= .build-install
# shaolind and shaolinctl are installed stripped: shaolind's symbols and DWARF are more than half of
# the file (the initramfs carries it; the unstripped build stays in $(BUILD) for debugging).
STRIP       ?= strip
# Without strip (binutils) on the machine the binaries are installed as built, with a warning
# (e.g. a minimal root installing binaries that tools/vm/build.sh already stripped).
INSTALL_STRIP = $(if $(shell command -v $(STRIP) 2>/dev/null),-s --strip-program=$(STRIP),)
# Commands that update the boot setup; only run for a real install (DESTDIR empty).
UPDATE_INITRAMFS ?= update-initramfs -u -k all
UPDATE_GRUB      ?= update-grub
SYSTEMCTL        ?= systemctl

BIN_SHAOLIND   = $(BUILD)/release/shaolind
BIN_SHAOLINCTL = $(BUILD)/release/shaolinctl

FILES = $(SBINDIR)/shaolind $(BINDIR)/shaolinctl \
        $(INITRAMFS)/hooks/shaolin $(INITRAMFS)/scripts/init-premount/shaolin \
        $(UNITDIR)/shaolin.service $(UNITDIR)/shaolin-initramfs.service $(LIBDIR)/shaolin-adopt \
        $(GRUBDIR)/42_shaolin $(SYSCONFDIR)/shaolin.example.toml $(DOCDIR)/boot.md $(DOCDIR)/configuration.md

.PHONY: all install uninstall installed-files
all: $(BIN_SHAOLIND) $(BIN_SHAOLINCTL)

$(BIN_SHAOLIND) $(BIN_SHAOLINCTL): Package.swift tools/link/static-cxx/libstdc++.so $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
	$(SWIFT) build -c release --static-swift-stdlib --build-path $(BUILD) --product shaolind
	$(SWIFT) build -c release --static-swift-stdlib --build-path $(BUILD) --product shaolinctl

installed-files:
	@for f in $(FILES); do echo "$$f"; done

install: all
	@[ -n "$(INSTALL_STRIP)" ] || echo "make install: $(STRIP) not found: installing the binaries unstripped" >&2
	install -D -m 0755 $(INSTALL_STRIP) $(BIN_SHAOLIND) $(DESTDIR)$(SBINDIR)/shaolind
	install -D -m 0755 $(INSTALL_STRIP) $(BIN_SHAOLINCTL) $(DESTDIR)$(BINDIR)/shaolinctl
	install -D -m 0755 initramfs-tools/hooks/shaolin $(DESTDIR)$(INITRAMFS)/hooks/shaolin
	install -D -m 0755 initramfs-tools/scripts/init-premount/shaolin $(DESTDIR)$(INITRAMFS)/scripts/init-premount/shaolin
	install -D -m 0644 systemd/shaolin.service $(DESTDIR)$(UNITDIR)/shaolin.service
	install -D -m 0644 systemd/shaolin-initramfs.service $(DESTDIR)$(UNITDIR)/shaolin-initramfs.service
	install -D -m 0755 systemd/shaolin-adopt $(DESTDIR)$(LIBDIR)/shaolin-adopt
	install -D -m 0755 grub/42_shaolin $(DESTDIR)$(GRUBDIR)/42_shaolin
	install -D -m 0644 docs/shaolin.example.toml $(DESTDIR)$(SYSCONFDIR)/shaolin.example.toml
	install -D -m 0644 docs/boot.md $(DESTDIR)$(DOCDIR)/boot.md
	install -D -m 0644 docs/configuration.md $(DESTDIR)$(DOCDIR)/configuration.md
	chmod 0700 $(DESTDIR)$(SYSCONFDIR)
ifeq ($(DESTDIR),)
	-$(SYSTEMCTL) daemon-reload
	-$(SYSTEMCTL) enable shaolin-initramfs.service
	$(UPDATE_INITRAMFS)
	-$(UPDATE_GRUB)
	@echo "shaolin installed. Write $(SYSCONFDIR)/shaolin.toml (see shaolin.example.toml), then update-initramfs -u."
else
	@echo "shaolin staged in $(DESTDIR): boot setup not updated (DESTDIR install)"
endif

uninstall:
ifeq ($(DESTDIR),)
	-$(SYSTEMCTL) disable shaolin-initramfs.service shaolin.service
endif
	rm -f $(addprefix $(DESTDIR),$(FILES))
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	# folders install created (initramfs-tools ships no scripts/init-premount); kept if not empty
	-rmdir $(DESTDIR)$(INITRAMFS)/scripts/init-premount 2>/dev/null
	-rmdir $(DESTDIR)$(SYSCONFDIR) 2>/dev/null
ifeq ($(DESTDIR),)
	-$(SYSTEMCTL) daemon-reload
	$(UPDATE_INITRAMFS)
	-$(UPDATE_GRUB)
	@echo "shaolin removed; the initramfs and GRUB menu are rebuilt without it ($(SYSCONFDIR) kept if it holds your files)."
endif
