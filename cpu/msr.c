/*
 * CPUID, model-specific registers, the time-stamp counter and the fast
 * system calls (SDM Vol. 2 CPUID/RDMSR/WRMSR/RDTSC/SYSENTER/SYSEXIT,
 * Vol. 3A §11.11 MTRRs, §11.12 PAT, Vol. 4 for the MSR numbers).
 *
 * The guest sees an i686-class Intel CPU (family 6, model 15) with the
 * features btvm implements: FPU DE PSE TSC MSR CX8 SEP MTRR PGE CMOV PAT
 * MMX FXSR SSE SSE2.  Not offered: VME, PAE, APIC (not yet), MCE, CLFSH,
 * SSE3 and later (the instructions run natively; leave them off until the
 * host's support is checked at run time).
 */
#include <string.h>

#include "cpu/exception.h"
#include "cpu/seg.h"
#include "cpu/sysops.h"

/* CPUID.1:EDX feature bits */
#define CPUID_FPU   (1u << 0)
#define CPUID_DE    (1u << 2)
#define CPUID_PSE   (1u << 3)
#define CPUID_TSC   (1u << 4)
#define CPUID_MSR   (1u << 5)
#define CPUID_CX8   (1u << 8)
#define CPUID_SEP   (1u << 11)
#define CPUID_MTRR  (1u << 12)
#define CPUID_PGE   (1u << 13)
#define CPUID_CMOV  (1u << 15)
#define CPUID_PAT   (1u << 16)
#define CPUID_APIC  (1u << 9)
#define CPUID_MMX   (1u << 23)
#define CPUID_FXSR  (1u << 24)
#define CPUID_SSE   (1u << 25)
#define CPUID_SSE2  (1u << 26)

#define CPUID_MAX_BASIC 2u
#define CPUID_MAX_EXT 0x80000004u

/* family 6, model 15, stepping 1 */
#define CPUID_SIGNATURE 0x000006f1u

static const char brand[48] = "btvm virtual CPU";

void cpu_cpuid(const cpu_state *cpu, uint32_t leaf, uint32_t out[4])
{
    /* Out-of-range leaves return the highest basic leaf, as Intel CPUs do. */
    if ((leaf > CPUID_MAX_BASIC && leaf < 0x80000000u) || leaf > CPUID_MAX_EXT)
        leaf = CPUID_MAX_BASIC;
    memset(out, 0, 16);
    switch (leaf) {
    case 0:
        out[0] = CPUID_MAX_BASIC;
        memcpy(&out[1], "Genu", 4); /* EBX, EDX, ECX: "GenuineIntel" */
        memcpy(&out[3], "ineI", 4);
        memcpy(&out[2], "ntel", 4);
        break;
    case 1:
        out[0] = CPUID_SIGNATURE;
        out[1] = 0x00010000u; /* one logical processor, APIC ID 0, brand index 0 */
        out[3] = CPUID_FPU | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8 |
                 CPUID_SEP | CPUID_MTRR | CPUID_PGE | CPUID_CMOV | CPUID_PAT | CPUID_MMX |
                 CPUID_FXSR | CPUID_SSE | CPUID_SSE2;
        /* The APIC bit follows the APIC: present on the board and not
         * globally disabled through IA32_APIC_BASE (SDM Vol. 3A §10.4.3). */
        if (cpu->apic_write_base && (cpu->apic_base & 0x800))
            out[3] |= CPUID_APIC;
        break;
    case 2:
        /* One round of cache descriptors: 32K L1 I (0x30), 32K L1 D (0x2c),
         * 2M L2 (0x7d). */
        out[0] = 0x7d2c3001u;
        break;
    case 0x80000000u:
        out[0] = CPUID_MAX_EXT;
        break;
    case 0x80000002u:
    case 0x80000003u:
    case 0x80000004u:
        memcpy(out, brand + (leaf - 0x80000002u) * 16, 16);
        break;
    default: /* 0x80000001: no NX, no long mode */
        break;
    }
}

void sys_op_cpuid(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint32_t r[4];
    cpu_cpuid(cpu, cpu->regs[R_EAX], r);
    cpu->regs[R_EAX] = r[0];
    cpu->regs[R_EBX] = r[1];
    cpu->regs[R_ECX] = r[2];
    cpu->regs[R_EDX] = r[3];
}

/* RDTSC: CR4.TSD restricts it to CPL 0. */
void sys_op_rdtsc(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    if ((cpu->cr4 & CR4_TSD) && cpu_protected(cpu) && cpu->cpl != 0)
        cpu_fault(cpu, EXC_GP, 0);
    uint64_t t = cpu_rdtsc(cpu);
    cpu->regs[R_EAX] = (uint32_t)t;
    cpu->regs[R_EDX] = (uint32_t)(t >> 32);
}

/* MSR numbers (SDM Vol. 4 Table 2-2) */
enum {
    MSR_TSC = 0x10, MSR_PLATFORM_ID = 0x17, MSR_APIC_BASE = 0x1b, MSR_BIOS_SIGN = 0x8b,
    MSR_MTRRCAP = 0xfe, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1a0, MSR_MTRR_PHYS0 = 0x200,
    MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K_80000 = 0x258, MSR_MTRR_FIX16K_A0000 = 0x259,
    MSR_MTRR_FIX4K_C0000 = 0x268, MSR_MTRR_FIX4K_F8000 = 0x26f, MSR_PAT = 0x277,
    MSR_MTRR_DEF_TYPE = 0x2ff,
};

/* MTRRcap: 8 variable ranges, fixed ranges, write-combining. */
#define MTRRCAP_VALUE 0x508u
/* 36 physical address bits, as on the P6 family. */
#define PHYS_MASK 0x0000000ffffff000ull

static int fixed_index(uint32_t msr)
{
    if (msr == MSR_MTRR_FIX64K)
        return 0;
    if (msr == MSR_MTRR_FIX16K_80000 || msr == MSR_MTRR_FIX16K_A0000)
        return 1 + (msr - MSR_MTRR_FIX16K_80000);
    if (msr >= MSR_MTRR_FIX4K_C0000 && msr <= MSR_MTRR_FIX4K_F8000)
        return 3 + (msr - MSR_MTRR_FIX4K_C0000);
    return -1;
}

/* Memory types MTRRs accept: UC WC WT WP WB; PAT also UC- (7). */
static bool mtrr_type_ok(unsigned t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }
static bool pat_type_ok(unsigned t) { return mtrr_type_ok(t) || t == 7; }

bool cpu_msr_read(cpu_state *cpu, uint32_t index, uint64_t *v)
{
    int fx = fixed_index(index);
    if (fx >= 0) {
        *v = cpu->mtrr_fixed[fx];
        return true;
    }
    if (index >= MSR_MTRR_PHYS0 && index < MSR_MTRR_PHYS0 + 16) {
        *v = cpu->mtrr_var[index - MSR_MTRR_PHYS0];
        return true;
    }
    switch (index) {
    case MSR_TSC: *v = cpu_rdtsc(cpu); return true;
    case MSR_PLATFORM_ID: *v = 0; return true;
    case MSR_APIC_BASE: *v = cpu->apic_base; return true;
    case MSR_BIOS_SIGN: *v = 0; return true; /* no microcode update loaded */
    case MSR_MTRRCAP: *v = MTRRCAP_VALUE; return true;
    case MSR_SYSENTER_CS: *v = cpu->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *v = cpu->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *v = cpu->sysenter_eip; return true;
    case MSR_MISC_ENABLE: *v = 1; return true; /* fast strings enabled */
    case MSR_PAT: *v = cpu->pat; return true;
    case MSR_MTRR_DEF_TYPE: *v = cpu->mtrr_def_type; return true;
    default: return false;
    }
}

bool cpu_msr_write(cpu_state *cpu, uint32_t index, uint64_t v)
{
    int fx = fixed_index(index);
    if (fx >= 0) {
        for (int i = 0; i < 8; i++)
            if (!mtrr_type_ok((v >> (8 * i)) & 0xff))
                return false;
        cpu->mtrr_fixed[fx] = v;
        return true;
    }
    if (index >= MSR_MTRR_PHYS0 && index < MSR_MTRR_PHYS0 + 16) {
        bool is_base = !(index & 1);
        if (is_base ? (v & ~(PHYS_MASK | 0xff)) || !mtrr_type_ok(v & 0xff)
                    : (v & ~(PHYS_MASK | 0x800)))
            return false;
        cpu->mtrr_var[index - MSR_MTRR_PHYS0] = v;
        return true;
    }
    switch (index) {
    case MSR_TSC:
        cpu->tsc_offset += v - cpu_rdtsc(cpu);
        return true;
    case MSR_APIC_BASE:
        /* Base and the enable bit are writable; BSP is read-only. */
        if (v & ~(PHYS_MASK | 0x900))
            return false;
        cpu->apic_base = (v & (PHYS_MASK | 0x800)) | (cpu->apic_base & 0x100);
        if (cpu->apic_write_base)
            cpu->apic_write_base(cpu->apic_opaque, cpu->apic_base);
        return true;
    case MSR_BIOS_SIGN:   /* a write triggers the signature update: no-op */
    case MSR_MISC_ENABLE: /* accepted, nothing it controls is modelled */
        return true;
    case MSR_SYSENTER_CS: cpu->sysenter_cs = (uint32_t)v; return true;
    case MSR_SYSENTER_ESP: cpu->sysenter_esp = (uint32_t)v; return true;
    case MSR_SYSENTER_EIP: cpu->sysenter_eip = (uint32_t)v; return true;
    case MSR_PAT:
        for (int i = 0; i < 8; i++)
            if (!pat_type_ok((v >> (8 * i)) & 0xff))
                return false;
        cpu->pat = v;
        return true;
    case MSR_MTRR_DEF_TYPE:
        if ((v & ~0xcffull) || !mtrr_type_ok(v & 0xff))
            return false;
        cpu->mtrr_def_type = v;
        return true;
    default: /* unknown, or read-only (MTRRcap, platform ID) */
        return false;
    }
}

void sys_op_rdmsr(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    sys_require_cpl0(cpu);
    uint64_t v;
    if (!cpu_msr_read(cpu, cpu->regs[R_ECX], &v))
        cpu_fault(cpu, EXC_GP, 0);
    cpu->regs[R_EAX] = (uint32_t)v;
    cpu->regs[R_EDX] = (uint32_t)(v >> 32);
}

void sys_op_wrmsr(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    sys_require_cpl0(cpu);
    uint64_t v = cpu->regs[R_EAX] | (uint64_t)cpu->regs[R_EDX] << 32;
    if (!cpu_msr_write(cpu, cpu->regs[R_ECX], v))
        cpu_fault(cpu, EXC_GP, 0);
}

/*
 * SYSENTER/SYSEXIT (Vol. 2): CS and SS are loaded with fixed flat
 * descriptors derived from IA32_SYSENTER_CS, not read from the GDT.
 *   SYSENTER: CS = SYSENTER_CS, SS = +8, ring 0; ESP/EIP from the MSRs.
 *   SYSEXIT:  CS = SYSENTER_CS+16 | 3, SS = +24 | 3; ESP = ECX, EIP = EDX.
 */
static void flat_segment(cpu_segment *s, uint16_t sel, bool code, unsigned dpl)
{
    s->selector = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->flags = SEGF_P | SEGF_S | SEGF_RW | SEGF_ACCESSED | SEGF_DB | SEGF_G | (dpl << 5) |
               (code ? SEGF_CODE : 0);
}

void sys_op_sysenter(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)cpu->sysenter_cs & 0xfffc;
    if (!cpu_protected(cpu) || cs == 0)
        cpu_fault(cpu, EXC_GP, 0);
    cpu->eflags &= ~(FL_VM | FL_IF | FL_RF);
    flat_segment(&cpu->seg[S_CS], cs, true, 0);
    flat_segment(&cpu->seg[S_SS], (uint16_t)(cs + 8), false, 0);
    cpu->regs[R_ESP] = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
    cpu_update_mode(cpu);
}

void sys_op_sysexit(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)cpu->sysenter_cs & 0xfffc;
    if (!cpu_protected(cpu) || cpu->cpl != 0 || cs == 0)
        cpu_fault(cpu, EXC_GP, 0);
    flat_segment(&cpu->seg[S_CS], (uint16_t)((cs + 16) | 3), true, 3);
    flat_segment(&cpu->seg[S_SS], (uint16_t)((cs + 24) | 3), false, 3);
    cpu->regs[R_ESP] = cpu->regs[R_ECX];
    cpu->eip = cpu->regs[R_EDX];
    cpu_update_mode(cpu);
}
