/* smmuv3_regs.h: ARM SMMUv3 architectural field definitions (Stream Table Entry, event records, command
 * opcodes), from the SMMUv3 specification (IHI 0070). Fields are over 64-bit little-endian dwords, used with
 * FIELD_GET/FIELD_PREP (vmm/bits.h). Shared by the iommufd layer, the lab programs and the vSMMU model
 * (which extends this file with registers and queues). */
#ifndef IVMM_IOMMU_SMMUV3_REGS_H
#define IVMM_IOMMU_SMMUV3_REGS_H

#include "vmm/bits.h"

/* ---- Stream Table Entry (8 dwords; a nested HWPT takes dwords 0 and 1) ---- */
#define STE_DWORDS 8

#define STE_0_V             BIT(0)
#define STE_0_CFG           GENMASK(3, 1)
#define   STE_CFG_ABORT     0
#define   STE_CFG_BYPASS    4
#define   STE_CFG_S1_TRANS  5
#define   STE_CFG_S2_TRANS  6
#define   STE_CFG_NESTED    7
#define STE_0_S1FMT         GENMASK(5, 4)
#define   STE_S1FMT_LINEAR  0
#define   STE_S1FMT_4K_L2   1
#define   STE_S1FMT_64K_L2  2
/* S1ContextPtr: bits [51:6] of the CD table address, kept in place (mask, do not shift). */
#define STE_0_S1CTXPTR      GENMASK(51, 6)
#define STE_0_S1CDMAX       GENMASK(63, 59)

#define STE_1_S1DSS         GENMASK(1, 0)
#define   STE_S1DSS_TERMINATE 0
#define   STE_S1DSS_BYPASS  1
#define   STE_S1DSS_SSID0   2
#define STE_1_S1CIR         GENMASK(3, 2)
#define STE_1_S1COR         GENMASK(5, 4)
#define STE_1_S1CSH         GENMASK(7, 6)
#define STE_1_S1STALLD      BIT(27)
#define STE_1_EATS          GENMASK(29, 28)
#define   STE_EATS_ABT      0
#define   STE_EATS_TRANS    1
#define   STE_EATS_S1CHK    2

/* The fields a nested HWPT's vSTE may carry (the host kernel rejects others with -EIO). */
#define STE_0_NESTED_ALLOWED (STE_0_V | STE_0_CFG | STE_0_S1FMT | STE_0_S1CTXPTR | STE_0_S1CDMAX)
#define STE_1_NESTED_ALLOWED (STE_1_S1DSS | STE_1_S1CIR | STE_1_S1COR | STE_1_S1CSH | STE_1_S1STALLD | STE_1_EATS)

/* Context Descriptor: 8 dwords (64 bytes). An all-zero CD has V=0 (C_BAD_CD on use). */
#define CD_DWORDS 8
#define CD_0_V              BIT(31)

/* ---- Event records (4 dwords) ---- */
#define EVTQ_ENT_DWORDS 4

#define EVTQ_0_ID           GENMASK(7, 0)
#define EVTQ_0_SSV          BIT(11)
#define EVTQ_0_SSID         GENMASK(31, 12)
#define EVTQ_0_SID          GENMASK(63, 32)
#define EVTQ_1_STAG         GENMASK(15, 0)
#define EVTQ_1_STALL        BIT(31)
#define EVTQ_1_PNU          BIT(32)
#define EVTQ_1_IND          BIT(33)
#define EVTQ_1_RNW          BIT(35)
#define EVTQ_1_S2           BIT(39)
#define EVTQ_1_CLASS        GENMASK(41, 40)
#define EVTQ_2_ADDR         GENMASK(63, 0)
#define EVTQ_3_IPA          GENMASK(51, 3)

#define EVT_ID_UUT                  0x01
#define EVT_ID_BAD_STREAMID         0x02
#define EVT_ID_F_STE_FETCH          0x03
#define EVT_ID_C_BAD_STE            0x04
#define EVT_ID_F_STREAM_DISABLED    0x06
#define EVT_ID_C_BAD_SUBSTREAMID    0x08
#define EVT_ID_F_CD_FETCH           0x09
#define EVT_ID_C_BAD_CD             0x0a
#define EVT_ID_F_WALK_EABT          0x0b
#define EVT_ID_F_TRANSLATION        0x10
#define EVT_ID_F_ADDR_SIZE          0x11
#define EVT_ID_F_ACCESS             0x12
#define EVT_ID_F_PERMISSION         0x13
#define EVT_ID_F_TLB_CONFLICT       0x20
#define EVT_ID_F_CFG_CONFLICT       0x21
#define EVT_ID_E_PAGE_REQUEST       0x24
#define EVT_ID_F_VMS_FETCH          0x25

/* ---- Commands (2 dwords) ---- */
#define CMDQ_ENT_DWORDS 2
#define CMDQ_0_OP           GENMASK(7, 0)
#define CMDQ_0_SSV          BIT(11)

#define CMDQ_CFGI_0_SSID    GENMASK(31, 12)
#define CMDQ_CFGI_0_SID     GENMASK(63, 32)
#define CMDQ_CFGI_1_LEAF    BIT(0)
#define CMDQ_CFGI_1_RANGE   GENMASK(4, 0)

#define CMDQ_TLBI_0_NUM     GENMASK(16, 12)
#define CMDQ_TLBI_0_SCALE   GENMASK(25, 20)
#define CMDQ_TLBI_0_VMID    GENMASK(47, 32)
#define CMDQ_TLBI_0_ASID    GENMASK(63, 48)
#define CMDQ_TLBI_1_LEAF    BIT(0)
#define CMDQ_TLBI_1_TTL     GENMASK(9, 8)
#define CMDQ_TLBI_1_TG      GENMASK(11, 10)
#define CMDQ_TLBI_1_VA      GENMASK(63, 12)
#define CMDQ_TLBI_1_IPA     GENMASK(51, 12)

#define CMDQ_ATC_0_GLOBAL   BIT(9)
#define CMDQ_ATC_0_SSID     GENMASK(31, 12)
#define CMDQ_ATC_0_SID      GENMASK(63, 32)
#define CMDQ_ATC_1_SIZE     GENMASK(5, 0)
#define CMDQ_ATC_1_ADDR     GENMASK(63, 12)

#define CMDQ_SYNC_0_CS      GENMASK(13, 12)
#define   CMDQ_SYNC_CS_NONE 0
#define   CMDQ_SYNC_CS_IRQ  1
#define   CMDQ_SYNC_CS_SEV  2
#define CMDQ_SYNC_0_MSH     GENMASK(23, 22)
#define CMDQ_SYNC_0_MSIATTR GENMASK(27, 24)
#define CMDQ_SYNC_0_MSIDATA GENMASK(63, 32)
#define CMDQ_SYNC_1_MSIADDR GENMASK(51, 2)

#define CMDQ_OP_PREFETCH_CONFIG 0x01
#define CMDQ_OP_PREFETCH_ADDR   0x02
#define CMDQ_OP_CFGI_STE        0x03
#define CMDQ_OP_CFGI_STE_RANGE  0x04
#define CMDQ_OP_CFGI_CD         0x05
#define CMDQ_OP_CFGI_CD_ALL     0x06
#define CMDQ_OP_CFGI_VMS_PIDM   0x07
#define CMDQ_OP_TLBI_NH_ALL     0x10
#define CMDQ_OP_TLBI_NH_ASID    0x11
#define CMDQ_OP_TLBI_NH_VA      0x12
#define CMDQ_OP_TLBI_NH_VAA     0x13
#define CMDQ_OP_TLBI_EL3_ALL    0x18
#define CMDQ_OP_TLBI_EL3_VA     0x1a
#define CMDQ_OP_TLBI_EL2_ALL    0x20
#define CMDQ_OP_TLBI_EL2_ASID   0x21
#define CMDQ_OP_TLBI_EL2_VA     0x22
#define CMDQ_OP_TLBI_EL2_VAA    0x23
#define CMDQ_OP_TLBI_S12_VMALL  0x28
#define CMDQ_OP_TLBI_S2_IPA     0x2a
#define CMDQ_OP_TLBI_NSNH_ALL   0x30
#define CMDQ_OP_ATC_INV         0x40
#define CMDQ_OP_PRI_RESP        0x41
#define CMDQ_OP_RESUME          0x44
#define CMDQ_OP_STALL_TERM      0x45
#define CMDQ_OP_CMD_SYNC        0x46

#endif
