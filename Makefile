# SPDX-License-Identifier: GPL-2.0
#
# capchan top-level build.
#
#   make            library, examples, selftests (+ the module if this
#                   machine has headers for KVER)
#   make module     capchan.ko against KDIR (default: the running kernel)
#   make demo       build, boot Debian's stock 6.1 kernel in QEMU, load the
#                   module, run the examples
#   make check      host unit tests + the models + kselftests in QEMU on 6.1
#                   and 6.12 + the DKMS build; ends with "N passed, N failed"
#   make fuzz       long seeded fuzz run in QEMU on each kernel (about 15
#                   min); FUZZ_SEED=<the seed it printed> repeats one
#   make install    module via DKMS, library, header, pkg-config, man pages,
#                   capchan-policy (the ready eBPF policies) in sbin
#   make bench      capchan vs syscalls vs io_uring in QEMU (bench/README)
#   make style      checkpatch --strict over module/ and uapi/
#   make sparse     the module built with sparse (C=2) for 6.1 and 6.12
#   make model      spin over the Promela models (module/*.pml): SQPOLL
#                   rings, the CQ with workers, capability lifecycle, and
#                   their broken variants
#
# The module itself is built by kbuild through ./Kbuild -> module/Kbuild.

# the one version number: module, library, DKMS
VERSION := $(shell cat $(CURDIR)/VERSION)
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
PREFIX ?= /usr/local
DESTDIR ?=
DKMS_SRC := $(DESTDIR)/usr/src/capchan-$(VERSION)

.PHONY: all module lib examples selftests deps check fuzz demo bench style sparse model install \
	install-lib install-module install-tools uninstall clean

all: lib examples selftests
	@if [ -d "$(KDIR)" ]; then $(MAKE) module; \
	else echo "capchan: no kernel headers at $(KDIR): module not built here (make check/demo build it for the VM kernels)"; fi

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	$(MAKE) -C libcapchan

examples: lib
	$(MAKE) -C examples

selftests: lib
	$(MAKE) -C selftests

# Debian packages everything below needs; installs only what is missing.
deps:
	sh selftests/vm/deps.sh

check: deps
	$(MAKE) lib examples selftests
	sh selftests/check.sh

# selftests/fuzz.sh reads FUZZ_SEED and the rest from the environment
fuzz: deps
	$(MAKE) lib selftests
	FUZZ_SEED='$(FUZZ_SEED)' sh selftests/fuzz.sh

demo: deps
	$(MAKE) lib examples
	sh examples/demo.sh

bench: deps
	$(MAKE) lib
	sh bench/run.sh

style: deps
	sh selftests/style.sh

sparse: deps
	sh selftests/sparse.sh

model: deps
	sh selftests/model_check.sh

install: install-lib install-module install-tools

install-lib: lib
	$(MAKE) -C libcapchan install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

# capchan-policy carries its eBPF policies inside (skeletons) and is
# linked statically: one file and its page.
install-tools: examples
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 examples/capchan-policy $(DESTDIR)$(PREFIX)/sbin/capchan-policy
	install -m 644 examples/capchan-policy.8 $(DESTDIR)$(PREFIX)/share/man/man8/capchan-policy.8

# DKMS builds the module for every installed kernel now and on upgrades.
# With DESTDIR set (packaging), only the DKMS source tree is staged.
install-module:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r Kbuild VERSION module uapi $(DKMS_SRC)/
	sed 's/@VERSION@/$(VERSION)/' dkms.conf > $(DKMS_SRC)/dkms.conf
	rm -f $(DKMS_SRC)/module/*.o $(DKMS_SRC)/module/*.ko $(DKMS_SRC)/module/.*.cmd
	@if [ -z "$(DESTDIR)" ]; then \
		dkms add -m capchan -v $(VERSION) && \
		dkms install -m capchan -v $(VERSION) -k $(KVER); \
	else echo "capchan: DESTDIR set: staged $(DKMS_SRC), run dkms on the target"; fi

uninstall:
	-dkms remove -m capchan -v $(VERSION) --all
	rm -rf /usr/src/capchan-$(VERSION)
	$(MAKE) -C libcapchan uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	rm -f $(DESTDIR)$(PREFIX)/sbin/capchan-policy \
		$(DESTDIR)$(PREFIX)/share/man/man8/capchan-policy.8

clean:
	-$(MAKE) -C libcapchan clean
	-$(MAKE) -C examples clean
	-$(MAKE) -C selftests clean
	-$(MAKE) -C bench clean
	rm -rf build
	rm -f module/*.o module/*.ko module/*.mod module/*.mod.c module/.*.cmd \
		module/Module.symvers module/modules.order .*.cmd Module.symvers modules.order
