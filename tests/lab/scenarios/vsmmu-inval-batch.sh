# vsmmu-inval-batch: the vSMMU batches the guest's invalidations. In L2, l2-vsmmu-inval maps and unmaps a 33-page
# buffer 200 times through VFIO cdev + iommufd (each unmap: two or more TLBI_NH_VA, then one CMD_SYNC), checking
# the translation with edu DMAs along the way and that the last unmap took effect. From ivmm's --stats: at least
# one TLBI_NH_VA and one CMD_SYNC per unmap reached vsmmu0, no command errors, and more invalidation commands
# than IOMMU_HWPT_INVALIDATE ioctls (inval-cmds > inval-ioctls); the ratio is printed.
# timeout: 300
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
ratio=$(awk -v c="$icmds" -v i="$iioctls" 'BEGIN { if (i > 0) printf "%.2f", c / i; else print "n/a" }')
lab_info "vsmmu0: $unmaps unmaps in L2 -> $tlbi TLBI_NH_VA, $sync CMD_SYNC"
lab_info "vsmmu0: $icmds invalidation commands in $iioctls ioctls: $ratio commands per ioctl (max batch $maxb)"
[ "$tlbi" -ge "$unmaps" ] || lab_fail "only $tlbi TLBI_NH_VA reached vsmmu0 for $unmaps unmaps in L2"
[ "$sync" -ge "$unmaps" ] || lab_fail "only $sync CMD_SYNC reached vsmmu0 for $unmaps unmaps in L2"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
[ "$iioctls" -gt 0 ] || lab_fail "vsmmu0 issued no IOMMU_HWPT_INVALIDATE"
[ "$icmds" -gt "$iioctls" ] || lab_fail "no batching: $icmds invalidation commands in $iioctls ioctls"
echo "vsmmu-inval-batch: $icmds invalidations in $iioctls ioctls ($ratio per ioctl)"
