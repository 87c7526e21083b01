#!/usr/bin/env bash
# demo.sh: `make demo`. Shows ivmm booting a guest with a passed-through PCI device.
#   x86_64 (or any non-arm64) host: builds the lab and boots it with ivmm.demo=1: L1 binds QEMU's edu device
#     to vfio-pci, prints `ivmm host-check --device <edu>` and runs `ivmm run --config /configs/demo-lab.ini`
#     (or, without that file, the lab kernel and L2 root with edu passed through) on the console. Interactive when stdin is a terminal (L2 gives a shell;
#     `poweroff -f` in L2 ends ivmm, then L1 powers off; Ctrl-A x quits QEMU at any time). Either way the guest
#     first lists its PCI devices and the vSMMU, and runs the edu BAR, DMA and MSI programs through its own
#     iommufd behind ivmm's emulated SMMUv3 (ivmm prints its --stats counters at the end). Without a terminal the guest
#     then powers off by itself (ivmm.demo_auto=1) and the demo ends; IVMM_DEMO_TIMEOUT (default 300 s)
#     bounds it.
#   arm64 host: build/host/ivmm run --config configs/demo.ini, on this machine's KVM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "$(uname -m)" = aarch64 ]; then
	make -C "$top" --no-print-directory build/host/ivmm
	exec "$top/build/host/ivmm" run --config "$top/configs/demo.ini"
fi

make -C "$top" --no-print-directory lab
if [ -t 0 ]; then
	exec bash "$here/run.sh" --no-build --demo
fi
echo "demo: stdin is not a terminal: the guest runs its demo steps and powers off (limit ${IVMM_DEMO_TIMEOUT:-300}s)"
timeout -k 5 "${IVMM_DEMO_TIMEOUT:-300}" bash "$here/run.sh" --no-build --demo --append ivmm.demo_auto=1
