# device-vsmmu: device-agnostic (the device under test, lab_dut_bdf: edu in the lab, run-host.sh's first
# --device on a host). The device behind ivmm's vSMMU (guest-vfio=on) with nothing asked of the device itself:
# l2-vsmmu-probe (L2's arm-smmu-v3 probed the vSMMU, the device is in an IOMMU group, a clean driver log), then
# l2-dev-vsmmu takes it with the guest's own VFIO + iommufd: a stage-1 STE (attach to an IOAS, whose allowed
# IOVAs must leave the software MSI window reserved), then N detach/attach cycles (`attach-cycles N`), and 100
# map/unmap cycles of 33 pages. From ivmm's --stats: commands reached vsmmu0 without command or STE errors; a
# nested HWPT for the first stage-1 STE and one more per cycle (1 + N), and an attach for each STE change the
# program made (the first attach, a blocking and a stage-1 STE per cycle: at least 1 + 2N); at least one
# TLBI_NH_VA and one CMD_SYNC per unmap, and fewer IOMMU_HWPT_INVALIDATE ioctls than invalidation commands
# (batching; the ratio is printed).
# timeout: 300
lab_run_dut_l2 l2-vsmmu-probe,l2-dev-vsmmu 240 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-probe.out
lab_expect $out '^l2-dev-vsmmu: software MSI window .* reserved, as behind an SMMUv3' \
	"the guest's IOAS for the device does not reserve the software MSI window"
unmaps=$(sed -n 's/^l2-dev-vsmmu: unmaps \([0-9][0-9]*\).*/\1/p' $out | tail -n 1)
[ -n "$unmaps" ] || lab_fail "l2-dev-vsmmu printed no 'unmaps N' line"
cycles=$(sed -n 's/^l2-dev-vsmmu: attach-cycles \([0-9][0-9]*\).*/\1/p' $out | tail -n 1)
[ -n "$cycles" ] || lab_fail "l2-dev-vsmmu printed no 'attach-cycles N' line"
cmds=$(lab_vsmmu_stat $out commands) || exit 1
cerr=$(lab_vsmmu_stat $out cmd-errors) || exit 1
serr=$(lab_vsmmu_stat $out ste-errors) || exit 1
nested=$(lab_vsmmu_stat $out nested-hwpts) || exit 1
att=$(lab_vsmmu_stat $out attaches) || exit 1
cfgi=$(lab_vsmmu_stat $out CFGI_STE) || exit 1
tlbi=$(lab_vsmmu_stat $out TLBI_NH_VA) || exit 1
sync=$(lab_vsmmu_stat $out CMD_SYNC) || exit 1
icmds=$(lab_vsmmu_stat $out inval-cmds) || exit 1
iioctls=$(lab_vsmmu_stat $out inval-ioctls) || exit 1
ratio=$(awk -v c="$icmds" -v i="$iioctls" 'BEGIN { if (i > 0) printf "%.2f", c / i; else print "n/a" }')
lab_info "vsmmu0: $cmds commands ($cfgi CFGI_STE), $nested nested HWPTs, $att attaches, $cerr command errors, $serr STE errors"
lab_info "vsmmu0: $unmaps unmaps in L2 -> $tlbi TLBI_NH_VA, $sync CMD_SYNC; $icmds invalidations in $iioctls ioctls ($ratio per ioctl)"
[ "$cmds" -gt 0 ] || lab_fail "the guest issued no command to vsmmu0"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
[ "$serr" = 0 ] || lab_fail "vsmmu0 hit $serr STE errors"
[ "$nested" -ge $((1 + cycles)) ] ||
	lab_fail "$nested nested HWPTs for the guest's first stage-1 STE and $cycles re-attaches (expected $((1 + cycles)))"
[ "$att" -ge $((1 + 2 * cycles)) ] ||
	lab_fail "only $att attaches for an attach and $cycles detach/attach cycles in the guest (expected $((1 + 2 * cycles)))"
[ "$tlbi" -ge "$unmaps" ] || lab_fail "only $tlbi TLBI_NH_VA reached vsmmu0 for $unmaps unmaps in L2"
[ "$sync" -ge "$unmaps" ] || lab_fail "only $sync CMD_SYNC reached vsmmu0 for $unmaps unmaps in L2"
[ "$iioctls" -gt 0 ] || lab_fail "vsmmu0 issued no IOMMU_HWPT_INVALIDATE"
[ "$icmds" -gt "$iioctls" ] || lab_fail "no batching: $icmds invalidation commands in $iioctls ioctls"
echo "device-vsmmu: $(lab_dut_bdf) behind vsmmu0: STEs attached ($att), $icmds invalidations in $iioctls ioctls ($ratio per ioctl)"
