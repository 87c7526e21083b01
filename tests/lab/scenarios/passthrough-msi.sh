# passthrough-msi: edu's interrupts reach L2 as MSIs (ivmm's virtual MSI capability -> VFIO eventfd in L1 ->
# KVM irqfd with the guest requester id -> vITS). In L2, l2-edu-msi takes edu with VFIO (no-IOMMU mode), gets
# an MSI eventfd, issues raise-interrupt writes and DMAs with interrupt on completion, and checks that L2's
# /proc/interrupts count grew by exactly that number.
# timeout: 240
lab_run_edu_l2 l2-edu-msi 180
echo "passthrough-msi: edu MSIs counted exactly in L2"
