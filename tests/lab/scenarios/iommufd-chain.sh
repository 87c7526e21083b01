# iommufd-chain: ivmm's own iommufd layer (iommu/iommufd.c, devices/vfio_dev.c) walks the whole chain on edu:
# bind, hw_info, IOAS, nest-parent HWPT, vIOMMU, vDEVICE, vEVENTQ, nested HWPT, attach; provokes a stage-1
# fault and checks the vEVENTQ record; tears down and rebinds. The work is in tests/lab/progs/iommufd-chain.c.
# timeout: 60

lab_need_prog iommufd-chain
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
"$LAB_PROGS/iommufd-chain" "$bdf"
rc=$?
[ $rc = 0 ] || lab_fail "iommufd-chain $bdf exited with status $rc"
echo "iommufd-chain: ok"
