# host-check: device-agnostic (the device under test, lab_dut_bdf: edu in the lab, run-host.sh's first --device
# on a host). `ivmm host-check --device BDF` on L1 (a real arm64 KVM + iommufd host) reports every capability
# ok and exits 0: KVM, its IPA size, vGICv3, ITS, KVM_CAP_MSI_DEVID, KVM_CAP_IRQFD_RESAMPLE, /dev/iommu, and for
# the device its sysfs entry, vfio-pci, its cdev, its SMMU, the iommufd bind, GET_HW_INFO (SMMUv3, nesting, the
# vSMMU's ID registers, errata) and a vIOMMU allocated and destroyed; S2FWB may be a warning (QEMU's SMMUv3 has
# no FWB, the lab kernel's patch allows the vIOMMU anyway: docs/lab.md). It leaves the device as it was (still
# on vfio-pci, a second run passes too). A device that does not exist (lab_absent_bdf) is a missing line and
# exit 1; a malformed BDF is exit 2. @erratum (run.sh NAME@VARIANT: L1 reports REPEAT_TLBI_CFGI): the errata
# line is ok and says the erratum is handled.
# timeout: 60
# variants: erratum
lab_need_ivmm
bdf=$(lab_dut_bdf) || exit 1
cdev=$(lab_bind_vfio "$bdf") || exit 1

# An ivmm without the subcommand says "unknown command 'host-check'" (exit 2): say that plainly.
"$LAB_IVMM" host-check --help > /tmp/host-check.help 2>&1 < /dev/null
rc=$?
if [ $rc != 0 ] || ! grep -q '^Usage: ivmm host-check' /tmp/host-check.help; then
	lab_tail /tmp/host-check.help 5
	lab_fail "ivmm has no host-check (ivmm host-check --help: exit $rc, no usage text)"
fi

# check_ready OUT: OUT is a run on the device that found everything.
check_ready() {
	local out=$1 what l
	set -- "architecture" "KVM" "KVM IPA size" "vGICv3" "vGICv3 ITS" "KVM_CAP_MSI_DEVID" "KVM_CAP_IRQFD_RESAMPLE" \
		"/dev/iommu" "$bdf device" "$bdf driver" "$bdf vfio cdev" "$bdf host IOMMU" "$bdf iommufd bind" \
		"$bdf hw info" "$bdf nesting" "$bdf vSMMU IDRs" "$bdf stall" "$bdf errata" "$bdf vIOMMU" "summary"
	for what in "$@"; do
		grep -qF "host-check: $what: ok: " "$out" ||
			{ lab_tail "$out" 30; lab_fail "no ok line for '$what' (got: $(grep -F "host-check: $what: " "$out" | head -n1))"; }
	done
	grep -qF "host-check: $bdf S2FWB: ok: " "$out" || grep -qF "host-check: $bdf S2FWB: warning: " "$out" ||
		{ lab_tail "$out" 30; lab_fail "no ok or warning line for '$bdf S2FWB'"; }
	l=$(grep ': missing: ' "$out" | head -n1)
	[ -z "$l" ] || lab_fail "a missing line: $l"
	! grep -q '^ivmm: error' "$out" || lab_fail "ivmm printed an error: $(grep '^ivmm: error' "$out" | head -n1)"
	# What it found is what sysfs says.
	grep -qF "host-check: $bdf vfio cdev: ok: $cdev (opened)" "$out" || lab_fail "the vfio cdev line does not name $cdev"
	smmu=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu")")
	grep -qF "host-check: $bdf host IOMMU: ok: $smmu" "$out" || lab_fail "the host IOMMU line does not name $smmu"
	grep -qF "host-check: $bdf hw info: ok: Arm SMMUv3" "$out" || lab_fail "GET_HW_INFO is not an SMMUv3"
	if [ "$(lab_variant)" = erratum ]; then
		grep -qF "host-check: $bdf errata: ok: IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI (erratum T264-SMMU-3): handled" "$out" ||
			lab_fail "the errata line does not say REPEAT_TLBI_CFGI is handled: $(grep -F "host-check: $bdf errata: " "$out")"
	fi
}

lab_run_timeout 30 /tmp/host-check.out "$LAB_IVMM" host-check --device "$bdf"
rc=$?
grep '^host-check: ' /tmp/host-check.out
[ $rc = 0 ] || { lab_tail /tmp/host-check.out 30; lab_fail "ivmm host-check --device $bdf: exit status $rc (expected 0)"; }
check_ready /tmp/host-check.out

# Nothing left behind: the device is still on vfio-pci with its cdev, and a second run (a fresh bind, a fresh
# vIOMMU) finds it ready again.
[ "$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")" = vfio-pci ] || lab_fail "$bdf left vfio-pci"
[ -c "$cdev" ] || lab_fail "$cdev is gone"
lab_run_timeout 30 /tmp/host-check2.out "$LAB_IVMM" host-check --device "${bdf#0000:}"
rc=$?
[ $rc = 0 ] || { lab_tail /tmp/host-check2.out 30; lab_fail "second ivmm host-check: exit status $rc (expected 0)"; }
check_ready /tmp/host-check2.out

# No such device: its missing line, exit 1.
none=$(lab_absent_bdf) || exit 1
nre=$(lab_re "$none")
lab_run_timeout 30 /tmp/host-check-none.out "$LAB_IVMM" host-check --device $none
rc=$?
[ $rc = 1 ] || { lab_tail /tmp/host-check-none.out 30; lab_fail "ivmm host-check --device $none: exit status $rc (expected 1)"; }
lab_expect /tmp/host-check-none.out \
	"^host-check: $nre device: missing: no PCI device $nre \\(/sys/bus/pci/devices/$nre does not exist\\)" \
	"no missing line for $none"
lab_expect /tmp/host-check-none.out '^host-check: summary: missing: ' "no missing summary for $none"
lab_expect /tmp/host-check-none.out '^host-check: KVM: ok: ' "KVM not ok in the $none run"
grep "^host-check: $none " /tmp/host-check-none.out

# A malformed BDF is a usage error.
got=$("$LAB_IVMM" host-check --device 00:20.0 2>&1 < /dev/null)
rc=$?
[ $rc = 2 ] || lab_fail "ivmm host-check --device 00:20.0: exit status $rc (expected 2); output: $got"
[ "$got" = "ivmm: error: host-check: --device '00:20.0': not a PCI address (DDDD:BB:DD.F or BB:DD.F)" ] ||
	lab_fail "ivmm host-check --device 00:20.0 printed: $got"
echo "host-check: ok"
