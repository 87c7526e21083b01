# vsmmu-msi-window: the negative control of vsmmu-nvme. The same NVMe controller behind the vSMMU, with L2's
# stock nvme driver on a DMA-API domain, but guest-vfio=on, so the device tree gives it no direct mapping of the
# host's MSI window: the controller's MSI-X writes (programmed by the host to its software MSI window) must
# fault in the guest's stage 1 and reach L2's SMMU driver as F_TRANSLATION events at write addresses in
# 0x08000000-0x080fffff (l2-msi-window), and ivmm's --stats must count them delivered. So the window, not
# luck, is what makes vsmmu-nvme's interrupts arrive. Without interrupts the nvme driver completes each command
# only when it times out and polls (and the kernel starts /init only once its asynchronous probe is done), so
# L2 runs with 1 s nvme timeouts instead of 60 s; it powers off as soon as the fault is seen; ivmm exits 0.
# timeout: 240
lab_need_ivmm
bdf=$(lab_nvme_bdf) || exit 1
lab_bind_vfio "$bdf" > /dev/null || exit 1
out=/tmp/vsmmu-msi-window.out
lab_run_l2 180 "$out" --viommu smmuv3 --stats --device "vfio-pci,host=$bdf,guest-vfio=on" \
	--cmdline "console=ttyS0 quiet nvme_core.admin_timeout=1 nvme_core.io_timeout=1 ivmm.l2=l2-msi-window"
rc=$?
grep -E "^(ivmm:|l2-msi-window:|L2-RESULT)" "$out" | head -n 30
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc"; }
lab_expect "$out" "L2-RESULT l2-msi-window PASS" "the controller's MSIs did not fault without the MSI window"
del=$(lab_vsmmu_stat "$out" delivered) || exit 1
[ "$del" -gt 0 ] || lab_fail "vsmmu0 delivered no event although L2 saw the MSI faults"
echo "vsmmu-msi-window: without the window the controller's MSIs fault ($del events delivered); with it (vsmmu-nvme) they arrive"
