# vsmmu-msi: edu's MSIs reach L2 when edu is behind L2's own IOMMU (ivmm --viommu smmuv3): the MSI write goes to
# the doorbell IOVA L2's kernel maps in its stage 1, then through ivmm's stage 2 to the vITS. In L2, l2-vsmmu-msi
# takes edu with VFIO cdev + iommufd, gets an MSI eventfd and checks that exactly the raise-interrupt writes and
# DMAs with interrupt on completion it made arrived (eventfd and /proc/interrupts).
# timeout: 240
# variants: 64k
lab_run_edu_l2 l2-vsmmu-msi 180 --viommu smmuv3 --stats
lab_expect /tmp/l2-vsmmu-msi.out 'l2-vsmmu-msi: issued 8 raises \+ 2 DMAs' "l2-vsmmu-msi did not report its count"
echo "vsmmu-msi: edu MSIs counted exactly in L2 behind the vSMMU"
