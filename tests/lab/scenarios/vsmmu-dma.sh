# vsmmu-dma: edu DMA through L2's own IOMMU (ivmm --viommu smmuv3: the guest's stage 1 over ivmm's stage 2 in the
# host SMMU). In L2, l2-vsmmu-dma takes edu with VFIO cdev + iommufd, maps a 2-page buffer at an IOVA that is not
# guest RAM, round-trips patterns through edu both ways, unmaps the buffer and checks that edu DMAs to the old
# IOVA no longer reach it (the guest's TLB invalidation went through the vSMMU to the host), then maps it again
# and round-trips again. ivmm's --stats must show a nested HWPT, forwarded TLBI_NH_VA and no command errors.
# timeout: 240
# variants: 64k
lab_run_edu_l2 l2-vsmmu-dma 180 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-dma.out
nested=$(lab_vsmmu_stat $out nested-hwpts) || exit 1
tlbi=$(lab_vsmmu_stat $out TLBI_NH_VA) || exit 1
cerr=$(lab_vsmmu_stat $out cmd-errors) || exit 1
# For the record: the faulting DMAs after the unmap are stage-1 faults the host forwards (vEVENTQ) to the vSMMU's
# event queue.
events=$(lab_vsmmu_stat $out delivered 2>/dev/null) || events="(no count)"
lab_info "vsmmu0: $nested nested HWPTs, $tlbi TLBI_NH_VA, $cerr command errors, $events events delivered to the guest"
[ "$nested" -gt 0 ] || lab_fail "vsmmu0 built no nested HWPT: the guest's stage-1 STE never reached the host"
[ "$tlbi" -gt 0 ] || lab_fail "no TLBI_NH_VA reached vsmmu0 although L2 unmapped a buffer"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
echo "vsmmu-dma: edu DMA through L2's IOMMU both ways, blocked after the unmap, working after the remap"
