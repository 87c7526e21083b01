# device-config: device-agnostic (any PCI function: the device under test, lab_dut_bdf; edu in the lab, the
# first --device of run-host.sh on a host). The guest's view of the device's config space and BARs must be the
# host's, as ivmm documents it (docs/passthrough.md, "What the guest sees"): pci-view reads the host's sysfs in
# L1 and prints the view ivmm should give (`--passthrough`: I/O BARs and the ROM hidden, the PM, MSI, vendor,
# PCIe and MSI-X capabilities kept in order, MSI at most 32 vectors, no extended capabilities); l2-dev-config
# reads the guest's sysfs with the same code (tests/lab/progs/pci_view.h) and prints its view; the two must be
# equal line for line (ids, class, revision, pin, each BAR's size and kind, capability list, MSI and MSI-X
# vector counts and table/PBA placement). In L2 every memory BAR has an address and mmaps, and the device is
# at 00:01.0. Afterwards the device is still bound to vfio-pci, its cdev opens again and no ivmm is left.
# timeout: 240
lab_need_ivmm
lab_need_prog pci-view
bdf=$(lab_dut_bdf) || exit 1
cdev=$(lab_bind_vfio "$bdf") || exit 1
host=/tmp/device-config.host want=/tmp/device-config.want got=/tmp/device-config.got
"$LAB_PROGS/pci-view" "$bdf" > $host || lab_fail "pci-view cannot read $bdf in the host's sysfs"
"$LAB_PROGS/pci-view" --passthrough "$bdf" > $want || lab_fail "pci-view --passthrough $bdf failed"
sed "s/^/info: host $bdf: /" $host
lab_run_dut_l2 l2-dev-config 180
sed -n 's/^l2-dev-config: view //p' /tmp/l2-dev-config.out | tr -d '\r' > $got
[ -s $got ] || lab_fail "l2-dev-config printed no view of the device"
if ! diff -u $want $got > /tmp/device-config.diff; then
	sed 's/^/    | /' /tmp/device-config.diff
	n=$(grep -c '^[-+][^-+]' /tmp/device-config.diff)
	lab_fail "the guest's view of $bdf is not what ivmm should show of the host's ($n lines differ: - host as passed through, + guest)"
fi
lab_nothing_left "$bdf" "$cdev" "after the run"
echo "device-config: $bdf in the guest: $(head -n 1 $got), $(grep -c '^bar' $got) BAR(s), $(grep '^caps' $got): as on the host"
