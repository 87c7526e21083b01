/* smmuv3_regs.h: ARM SMMUv3 architectural field definitions (registers, queues, Stream Table Entry, event
 * records, commands), from the SMMUv3 specification (IHI 0070). Names follow Linux's arm-smmu-v3.h so a
 * reader can grep between ivmm and the kernel. Fields are over 32- or 64-bit little-endian values, used with
 * FIELD_GET/FIELD_PREP (vmm/bits.h). Shared by the iommufd layer, the lab programs and the vSMMU model. */
#ifndef IVMM_IOMMU_SMMUV3_REGS_H
#define IVMM_IOMMU_SMMUV3_REGS_H

#include "vmm/bits.h"


/* ---- Registers: page 0 offsets (page 1 at +SMMU_PAGE1 holds EVTQ_PROD/CONS and PRIQ_PROD/CONS) ---- */
#define SMMU_PAGE_SIZE          0x10000ULL
#define SMMU_FRAME_SIZE         (2 * SMMU_PAGE_SIZE)

#define ARM_SMMU_IDR0           0x00
#define   IDR0_S2P              BIT(0)
#define   IDR0_S1P              BIT(1)
#define   IDR0_TTF              GENMASK(3, 2)
#define     IDR0_TTF_AARCH64    2
#define   IDR0_COHACC           BIT(4)
#define   IDR0_BTM              BIT(5)
#define   IDR0_HTTU             GENMASK(7, 6)
#define   IDR0_HYP              BIT(9)
#define   IDR0_ATS              BIT(10)
#define   IDR0_ASID16           BIT(12)
#define   IDR0_MSI              BIT(13)
#define   IDR0_SEV              BIT(14)
#define   IDR0_PRI              BIT(16)
#define   IDR0_VMID16           BIT(18)
#define   IDR0_CD2L             BIT(19)
#define   IDR0_TTENDIAN         GENMASK(22, 21)
#define     IDR0_TTENDIAN_MIXED 0
#define     IDR0_TTENDIAN_LE    2
#define   IDR0_STALL_MODEL      GENMASK(25, 24)
#define     IDR0_STALL_MODEL_STALL 0 /* stall and terminate both supported */
#define     IDR0_STALL_MODEL_NONE 1
#define     IDR0_STALL_MODEL_FORCE 2
#define   IDR0_TERM_MODEL       BIT(26)
#define   IDR0_ST_LVL           GENMASK(28, 27)
#define     IDR0_ST_LVL_2LVL    1
#define ARM_SMMU_IDR1           0x04
#define   IDR1_SIDSIZE          GENMASK(5, 0)
#define   IDR1_SSIDSIZE         GENMASK(10, 6)
#define   IDR1_PRIQS            GENMASK(15, 11)
#define   IDR1_EVTQS            GENMASK(20, 16)
#define   IDR1_CMDQS            GENMASK(25, 21)
#define ARM_SMMU_IDR2           0x08
#define ARM_SMMU_IDR3           0x0c
#define   IDR3_FWB              BIT(8)
#define   IDR3_RIL              BIT(10)
#define   IDR3_BBML             GENMASK(12, 11)
#define ARM_SMMU_IDR4           0x10
#define ARM_SMMU_IDR5           0x14
#define   IDR5_OAS              GENMASK(2, 0)
#define   IDR5_GRAN4K           BIT(4)
#define   IDR5_GRAN16K          BIT(5)
#define   IDR5_GRAN64K          BIT(6)
#define   IDR5_DS               BIT(7)
#define   IDR5_VAX              GENMASK(11, 10)
#define ARM_SMMU_IIDR           0x18
#define ARM_SMMU_AIDR           0x1c
#define ARM_SMMU_CR0            0x20
#define   CR0_SMMUEN            BIT(0)
#define   CR0_PRIQEN            BIT(1)
#define   CR0_EVTQEN            BIT(2)
#define   CR0_CMDQEN            BIT(3)
#define   CR0_ATSCHK            BIT(4)
#define ARM_SMMU_CR0ACK         0x24
#define ARM_SMMU_CR1            0x28
#define ARM_SMMU_CR2            0x2c
#define   CR2_E2H               BIT(0)
#define   CR2_RECINVSID         BIT(1)
#define   CR2_PTM               BIT(2)
#define ARM_SMMU_STATUSR        0x40
#define ARM_SMMU_GBPA           0x44
#define   GBPA_ABORT            BIT(20)
#define   GBPA_UPDATE           BIT(31)
#define ARM_SMMU_AGBPA          0x48
#define ARM_SMMU_IRQ_CTRL       0x50
#define   IRQ_CTRL_GERROR_IRQEN BIT(0)
#define   IRQ_CTRL_PRIQ_IRQEN   BIT(1)
#define   IRQ_CTRL_EVTQ_IRQEN   BIT(2)
#define ARM_SMMU_IRQ_CTRLACK    0x54
#define ARM_SMMU_GERROR         0x60
#define   GERROR_CMDQ_ERR       BIT(0)
#define   GERROR_EVTQ_ABT_ERR   BIT(2)
#define   GERROR_PRIQ_ABT_ERR   BIT(3)
#define   GERROR_MSI_CMDQ_ABT_ERR BIT(4)
#define   GERROR_MSI_EVTQ_ABT_ERR BIT(5)
#define   GERROR_MSI_PRIQ_ABT_ERR BIT(6)
#define   GERROR_MSI_GERROR_ABT_ERR BIT(7)
#define   GERROR_SFM_ERR        BIT(8)
#define   GERROR_ERR_MASK       0x1fdULL
#define ARM_SMMU_GERRORN        0x64
#define ARM_SMMU_GERROR_IRQ_CFG0 0x68
#define ARM_SMMU_GERROR_IRQ_CFG1 0x70
#define ARM_SMMU_GERROR_IRQ_CFG2 0x74
#define ARM_SMMU_STRTAB_BASE    0x80
#define   STRTAB_BASE_RA        BIT(62)
#define   STRTAB_BASE_ADDR_MASK GENMASK(51, 6)
#define ARM_SMMU_STRTAB_BASE_CFG 0x88
#define   STRTAB_BASE_CFG_LOG2SIZE GENMASK(5, 0)
#define   STRTAB_BASE_CFG_SPLIT GENMASK(10, 6)
#define   STRTAB_BASE_CFG_FMT   GENMASK(17, 16)
#define     STRTAB_BASE_CFG_FMT_LINEAR 0
#define     STRTAB_BASE_CFG_FMT_2LVL 1
#define ARM_SMMU_CMDQ_BASE      0x90
#define ARM_SMMU_CMDQ_PROD      0x98
#define ARM_SMMU_CMDQ_CONS      0x9c
#define ARM_SMMU_EVTQ_BASE      0xa0
#define ARM_SMMU_EVTQ_PROD      0xa8 /* in page 1 */
#define ARM_SMMU_EVTQ_CONS      0xac /* in page 1 */
#define ARM_SMMU_EVTQ_IRQ_CFG0  0xb0
#define ARM_SMMU_EVTQ_IRQ_CFG1  0xb8
#define ARM_SMMU_EVTQ_IRQ_CFG2  0xbc
#define ARM_SMMU_PRIQ_BASE      0xc0
#define ARM_SMMU_PRIQ_PROD      0xc8 /* in page 1 */
#define ARM_SMMU_PRIQ_CONS      0xcc /* in page 1 */

/* *_IRQ_CFG0/1/2: MSI address, data, attributes. */
#define MSI_CFG0_ADDR_MASK      GENMASK(51, 2)
#define MSI_CFG2_FIELDS         GENMASK(5, 0)

/* Queue base registers and index registers. */
#define Q_BASE_RWA              BIT(62)
#define Q_BASE_ADDR_MASK        GENMASK(51, 5)
#define Q_BASE_LOG2SIZE         GENMASK(4, 0)
#define Q_OVERFLOW_FLAG         BIT(31)
#define CMDQ_CONS_ERR           GENMASK(30, 24)
#define   CMDQ_ERR_CERROR_NONE  0
#define   CMDQ_ERR_CERROR_ILL   1
#define   CMDQ_ERR_CERROR_ABT   2
#define   CMDQ_ERR_CERROR_ATC_INV_SYNC 3

/* Level-1 stream table descriptor (2-level tables): 1 dword. */
#define STRTAB_L1_DESC_SPAN     GENMASK(4, 0)
#define STRTAB_L1_DESC_L2PTR    GENMASK(51, 6)
#define STRTAB_STE_SIZE         64

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
#define EVTQ_3_FETCH_ADDR   GENMASK(51, 3)  /* F_STE_FETCH, F_CD_FETCH */

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
#define CMDQ_0_SSEC         BIT(10)
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
#define CMDQ_SYNC_0_CS_RESERVED 3

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
