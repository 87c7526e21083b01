# passthrough-dma: edu passed through to L2 (no vSMMU: DMA addresses are guest-physical, ivmm maps all guest
# RAM in the IOAS at IOVA = GPA); in L2, l2-edu-dma enables bus mastering and round-trips patterns through
# guest RAM with edu DMAs in both directions.
# timeout: 240
# variants: 64k
lab_run_edu_l2 l2-edu-dma 180
echo "passthrough-dma: edu DMA both ways through L2 RAM"
