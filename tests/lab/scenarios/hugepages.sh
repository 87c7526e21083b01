# hugepages: --hugepages backs guest RAM with the host's default huge pages (MAP_HUGETLB; 2 MiB on the 4K-page L1):
# with enough pages reserved in L1
# the guest boots and powers off (exit 0) and the pages are all free again afterwards; with none reserved ivmm
# fails with one clear message naming the fix and exit status 1 (a host failure), leaving nothing behind.
# timeout: 120
# skip-on: 64k the default huge page of a 64 KiB-page kernel is 512 MiB, and L1 has 2 GiB
lab_need_ivmm
hp=/proc/sys/vm/nr_hugepages
[ -w $hp ] || lab_fail "no $hp in L1 (CONFIG_HUGETLBFS?)"
# What was reserved before is put back on every way out (0 in L1; a real host's own setting under run-host.sh).
hp_was=$(cat $hp)
trap 'echo "$hp_was" > $hp' EXIT
echo 150 > $hp
got=$(cat $hp)
[ "$got" -ge 128 ] || lab_fail "could reserve only $got huge pages in L1 (need 128 for 256M)"
free_before=$(sed -n 's/^HugePages_Free: *//p' /proc/meminfo)
out=/tmp/hugepages.out
lab_run_l2 90 "$out" --memory 256M --hugepages --cmdline "console=ttyS0 earlycon ivmm.l2="
rc=$?
lab_expect "$out" 'L2: init reached' "L2 did not reach /init on huge pages"
[ $rc = 0 ] || { echo 0 > $hp; lab_tail "$out"; lab_fail "ivmm --hugepages exited with status $rc (expected 0)"; }
free_after=$(sed -n 's/^HugePages_Free: *//p' /proc/meminfo)
echo 0 > $hp
[ "$free_after" = "$free_before" ] || lab_fail "huge pages free: $free_before before, $free_after after ivmm exited"
lab_info "booted on huge pages ($got reserved); all $free_after free again after exit"

got=$("$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" --memory 256M --hugepages 2>&1 < /dev/null)
rc=$?
want="ivmm: error: guest RAM: cannot map 256 MiB of huge pages: Cannot allocate memory (reserve at least 128 pages of 2048 KiB in /proc/sys/vm/nr_hugepages, or run without --hugepages)"
[ $rc = 1 ] || lab_fail "without huge pages: exit status $rc (expected 1); output: $got"
[ "$got" = "$want" ] || lab_fail "without huge pages: printed '$got', expected '$want'"
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left: $left"
echo "hugepages: ok"
