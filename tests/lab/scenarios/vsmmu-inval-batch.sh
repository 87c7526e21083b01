# vsmmu-inval-batch: the vSMMU batches the guest's invalidations. In L2, l2-vsmmu-inval maps and unmaps a 33-page
# buffer 200 times through VFIO cdev + iommufd (each unmap: two or more TLBI_NH_VA, then one CMD_SYNC), checking
# the translation with edu DMAs along the way and that the last unmap took effect. From ivmm's --stats: at least
# one TLBI_NH_VA and one CMD_SYNC per unmap reached vsmmu0, no command errors, and more invalidation commands
# than IOMMU_HWPT_INVALIDATE ioctls (inval-cmds > inval-ioctls); the ratio is printed.
# On host variants (run.sh NAME@VARIANT): @noril, a host without range invalidation (IDR3.RIL hidden), the guest
# invalidates page by page: a 33-page unmap is one batch of at least 33 TLBI_NH_VA (max-batch >= 33), still one
# ioctl per CMD_SYNC; @erratum, a host with REPEAT_TLBI_CFGI: every batch was issued twice (inval-repeats > 0 and
# inval-ioctls = 2 x inval-repeats).
# timeout: 300
# variants: noril erratum 64k
lab_run_edu_l2 l2-vsmmu-inval 240 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-inval.out
unmaps=$(sed -n 's/^l2-vsmmu-inval: unmaps \([0-9][0-9]*\).*/\1/p' $out | tail -n 1)
[ -n "$unmaps" ] || lab_fail "l2-vsmmu-inval printed no 'unmaps N' line"
icmds=$(lab_vsmmu_stat $out inval-cmds) || exit 1
iioctls=$(lab_vsmmu_stat $out inval-ioctls) || exit 1
maxb=$(lab_vsmmu_stat $out max-batch) || exit 1
cerr=$(lab_vsmmu_stat $out cmd-errors) || exit 1
tlbi=$(lab_vsmmu_stat $out TLBI_NH_VA) || exit 1
sync=$(lab_vsmmu_stat $out CMD_SYNC) || exit 1
lab_info "vsmmu0: $unmaps unmaps in L2 -> $tlbi TLBI_NH_VA, $sync CMD_SYNC"
lab_info "vsmmu0: $icmds invalidation commands in $iioctls ioctls (max batch $maxb)"
[ "$tlbi" -ge "$unmaps" ] || lab_fail "only $tlbi TLBI_NH_VA reached vsmmu0 for $unmaps unmaps in L2"
[ "$sync" -ge "$unmaps" ] || lab_fail "only $sync CMD_SYNC reached vsmmu0 for $unmaps unmaps in L2"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
[ "$iioctls" -gt 0 ] || lab_fail "vsmmu0 issued no IOMMU_HWPT_INVALIDATE"
rep=$(lab_vsmmu_stat $out inval-repeats) || exit 1
batches=$((iioctls - rep))
[ "$icmds" -gt "$batches" ] || lab_fail "no batching: $icmds invalidation commands in $batches batches"
variant=$(lab_variant)
case "$variant" in
noril)
	[ "$maxb" -ge 33 ] || lab_fail "without RIL a 33-page unmap is 33 TLBIs, but the largest batch was $maxb" ;;
erratum)
	[ "$rep" -gt 0 ] || lab_fail "a REPEAT_TLBI_CFGI host, and no batch was issued twice (inval-repeats 0)"
	[ "$iioctls" = $((2 * rep)) ] || lab_fail "$iioctls ioctls for $rep repeated batches: not every batch went twice"
	grep -q 'host erratum T264-SMMU-3' $out || lab_fail "ivmm did not say it handles the erratum" ;;
*)
	[ "$rep" = 0 ] || lab_fail "no erratum on this host, yet $rep batches were repeated" ;;
esac
ratio=$(awk -v c="$icmds" -v i="$batches" 'BEGIN { if (i > 0) printf "%.2f", c / i; else print "n/a" }')
echo "vsmmu-inval-batch${variant:+@$variant}: $icmds invalidations in $batches batches ($ratio per ioctl, one per CMD_SYNC; $iioctls ioctls with $rep repeats)"
