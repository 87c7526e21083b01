# vsmmu-dma-guest64k: vsmmu-dma with a 64 KiB-page guest (the lab kernel built with CONFIG_ARM64_64K_PAGES,
# /l2/Image-64k) on the 64k host variant: L2's arm-smmu-v3 driver then builds its stage-1 tables with the 64 KiB
# granule (IDR5.GRAN64K is the host's), over ivmm's stage 2, and its invalidations are 64 KiB-granule TLBIs.
# l2-vsmmu-dma must round-trip edu DMA through L2's own iommufd, see it blocked after the unmap and working
# after the remap; ivmm's --stats must show a nested HWPT, forwarded TLBI_NH_VA and no command errors. Run as
# vsmmu-dma-guest64k@64k (`# variant-only`: not in the plain set); `# lab-only`: the host bundle has no 64 KiB
# guest kernel.
# timeout: 240
# variants: 64k
# variant-only
# lab-only
[ -f /l2/Image-64k ] || lab_fail "no 64 KiB-page guest kernel (/l2/Image-64k) in the L1 image"
LAB_L2_KERNEL=/l2/Image-64k
lab_run_edu_l2 l2-vsmmu-dma 180 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-dma.out
lab_expect $out '^l2-vsmmu-dma: 2 pages of 64 KiB mapped' "L2 did not map 64 KiB pages (is it the 64 KiB-page kernel?)"
nested=$(lab_vsmmu_stat $out nested-hwpts) || exit 1
tlbi=$(lab_vsmmu_stat $out TLBI_NH_VA) || exit 1
cerr=$(lab_vsmmu_stat $out cmd-errors) || exit 1
lab_info "vsmmu0: $nested nested HWPTs, $tlbi TLBI_NH_VA, $cerr command errors"
[ "$nested" -gt 0 ] || lab_fail "vsmmu0 built no nested HWPT: the guest's stage-1 STE never reached the host"
[ "$tlbi" -gt 0 ] || lab_fail "no TLBI_NH_VA reached vsmmu0 although L2 unmapped a buffer"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
echo "vsmmu-dma-guest64k: a 64 KiB-page guest's DMA through its own IOMMU on a 64 KiB-page host"
