# l1-health: the emulated host is what ivmm needs: KVM up in VHE mode, /dev/kvm, /dev/iommu, edu bound to
# vfio-pci with a VFIO cdev, and the L2 kernel and root in place.
# timeout: 30

dmesg > /tmp/l1-health.dmesg
grep -q 'kvm \[[0-9]*\]: VHE mode initialized successfully' /tmp/l1-health.dmesg ||
	{ grep -i kvm /tmp/l1-health.dmesg | sed 's/^/    | /'; lab_fail "KVM not initialised in VHE mode (dmesg)"; }
lab_info "$(grep -o 'kvm \[[0-9]*\]: VHE mode initialized successfully' /tmp/l1-health.dmesg)"
[ -c /dev/kvm ] || lab_fail "/dev/kvm missing"
[ -c /dev/iommu ] || lab_fail "/dev/iommu missing (CONFIG_IOMMUFD?)"
grep -q 'arm-smmu-v3.*features' /tmp/l1-health.dmesg || lab_fail "SMMUv3 did not probe (dmesg)"
lab_info "$(grep -o 'arm-smmu-v3.*features.*' /tmp/l1-health.dmesg | head -n1)"

bdf=$(lab_edu_bdf) || exit 1
[ -e "/sys/bus/pci/devices/$bdf/iommu_group" ] || lab_fail "edu $bdf is not behind an IOMMU"
cdev=$(lab_bind_edu) || exit 1
[ "$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")" = vfio-pci ] || lab_fail "edu $bdf not on vfio-pci"
[ -c "$cdev" ] || lab_fail "$cdev is not a character device"
# Binding again is a no-op that returns the same cdev.
again=$(lab_bind_edu) || exit 1
[ "$again" = "$cdev" ] || lab_fail "lab_bind_edu not idempotent: $cdev then $again"
lab_info "edu $bdf on vfio-pci, cdev $cdev"

[ -s "$LAB_L2_KERNEL" ] || lab_fail "$LAB_L2_KERNEL missing"
[ -s "$LAB_L2_INITRD" ] || lab_fail "$LAB_L2_INITRD missing"
echo "l1-health: ok"
