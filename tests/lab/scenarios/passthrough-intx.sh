# passthrough-intx: with MSI off, edu's INTA reaches L2 through ivmm's INTx fallback (VFIO INTx eventfd in L1 ->
# KVM irqfd on the swizzled SPI with a resample eventfd). In L2, l2-edu-intx takes edu with VFIO (no-IOMMU
# mode) and counts raise -> interrupt -> acknowledge -> unmask cycles.
# timeout: 240
lab_run_edu_l2 l2-edu-intx 180
echo "passthrough-intx: edu INTx delivered to L2"
