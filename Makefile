# bcdtool: the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# Debian tools the tests use to build real images and to read our writes independently.
DEB_TOOLS := dosfstools mtools ntfs-3g gdisk fdisk qemu-utils libwin-hivex-perl libhivex-bin e2fsprogs xz-utils grub-common u-boot-tools fuse3
PYTEST_ARGS ?=
CHECK_JOBS ?= 2

.PHONY: demo check test deps-test debian-tools azurite fuzz crash e2e e2e-tools guestfs-test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

demo: $(VENV)/.installed debian-tools
	$(PY) fixtures/demo.py

debian-tools:
	@missing=""; for t in mkfs.fat:dosfstools mcopy:mtools mkntfs:ntfs-3g sgdisk:gdisk sfdisk:fdisk \
	    qemu-img:qemu-utils hivexregedit:libwin-hivex-perl hivexsh:libhivex-bin mkfs.ext4:e2fsprogs xz:xz-utils \
	    grub-script-check:grub-common dumpimage:u-boot-tools fusermount3:fuse3; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not root: tests needing$$missing will be skipped (install them with apt-get)"; fi; \
	fi

deps-test: $(VENV)/.installed-test debian-tools azurite

# Azurite (Microsoft's Azure Storage emulator) for the page-blob tests, into .azurite/ when npm
# is present; without npm those tests skip and say so.
azurite:
	@if [ ! -x .azurite/node_modules/.bin/azurite-blob ]; then \
	  if command -v npm >/dev/null 2>&1; then \
	    echo "installing azurite (npm) into .azurite/"; \
	    npm install --no-audit --no-fund --silent --prefix .azurite azurite@3 >/dev/null; \
	  else echo "npm not found: the Azurite-backed tests will be skipped"; fi; \
	fi

# The unit tier a developer runs every minute (under a minute on 2 cores): ruff, then the hive
# engine, BCD semantics and codecs, Linux parsing and rules, the CLI seam and the code-base rules,
# without the tests marked slow, in CHECK_JOBS processes (pytest-xdist; ~55 s of CPU, so one
# process alone is at the minute).  `make test` runs everything.
UNIT_TESTS := tests/regf tests/bcd tests/linux tests/cli/test_seam.py tests/test_errors.py \
              tests/test_codebase.py tests/test_packed.py tests/test_log.py
check: deps-test
	$(PY) -m ruff check bcdtool tests fixtures bench
	$(PY) -m pytest -q -p no:cacheprovider -n $(CHECK_JOBS) -m "not slow" $(PYTEST_ARGS) $(UNIT_TESTS)

test: deps-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

fuzz: deps-test
	BCDTOOL_FUZZ_EXAMPLES=20000 BCDTOOL_FUZZ_BUDGET=900 BCDTOOL_CLI_FUZZ_RUNS=300 \
	  $(PY) -m pytest -q tests/fuzz
	for kind in hives images state manifests linux; do \
	  $(PY) -m tests.fuzz.campaign $$kind --runs 2000 --seed 1 || exit 1; done

# Every crash point of the SAC recipe on every image format and hive file (minutes).
crash: deps-test
	BCDTOOL_CRASH_MATRIX=full $(PY) -m pytest -q tests/crash

# Boots real guests under QEMU (see README, "What `make e2e` proves"); a missing tool fails, never skips.
e2e-tools:
	@missing=""; for t in qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap \
	    /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || [ -e $${t%%:*} ] || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

e2e: deps-test e2e-tools
	BCDTOOL_E2E_REQUIRED=1 $(PY) -m pytest -q -m e2e tests/e2e

# The optional libguestfs backend (1.1 GB of Debian packages; the appliance boots under TCG).
guestfs-test: deps-test
	@if ! command -v guestfish >/dev/null 2>&1 || [ ! -e /usr/lib/python3/dist-packages/guestfs.py ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: python3-guestfs libguestfs-tools linux-image-amd64"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      python3-guestfs libguestfs-tools linux-image-amd64 >/dev/null; \
	  else echo "not root: install python3-guestfs libguestfs-tools linux-image-amd64 with apt-get"; fi; \
	fi
	LIBGUESTFS_BACKEND_SETTINGS=$${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg} \
	  $(PY) -m pytest -q -m guestfs tests/backend_guestfs

bench: deps-test
	$(PY) bench/run

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
