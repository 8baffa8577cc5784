/* The guest CPU state: power-on, reset and small shared helpers (cpu.h). */
#include "cpu/cpu.h"

#include <stddef.h>
#include <string.h>
#include <x86intrin.h>

#include "cpu/icache.h"
#include "cpu/mem.h"
#include "cpu/seg.h"

/* Offsets generated code will rely on (translator, later). */
_Static_assert(offsetof(cpu_state, regs) == 0, "regs first");
_Static_assert(offsetof(cpu_state, eip) == 32, "eip after regs");
_Static_assert(offsetof(cpu_state, eflags) == 36, "eflags after eip");
_Static_assert(offsetof(cpu_state, fxsave) % 16 == 0, "FXSAVE image is 16-byte aligned");

int cpu_init(cpu_state *cpu, phys_mem *mem, io_space *io)
{
    memset(cpu, 0, sizeof(*cpu));
    cpu->mem = mem;
    cpu->io = io;
    cpu->icache = cpu_icache_new();
    if (!cpu->icache)
        return -1;
    cpu_reset(cpu);
    return 0;
}

void cpu_destroy(cpu_state *cpu)
{
    cpu_icache_free(cpu->icache);
    cpu->icache = NULL;
}

/* Power-on and RESET state (SDM Vol. 3A §9.1.1, Table 9-1). */
void cpu_reset(cpu_state *cpu)
{
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_EDX] = 0x000006f1; /* the CPUID signature: family 6, model 15, stepping 1 */
    cpu->eip = 0xfff0;
    cpu->eflags = FL_FIXED1;
    cpu->cr0 = CR0_ET | CR0_CD | CR0_NW;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
    memset(cpu->dr, 0, sizeof(cpu->dr));
    cpu->dr[6] = 0xffff0ff0u;
    cpu->dr[7] = 0x00000400u;
    for (int s = 0; s < S_COUNT; s++) {
        cpu->seg[s] = (cpu_segment){ .base = 0, .limit = 0xffff, .selector = 0,
                                     .flags = SEGF_P | SEGF_S | SEGF_RW | SEGF_ACCESSED };
    }
    cpu->seg[S_CS] = (cpu_segment){ .base = 0xffff0000u, .limit = 0xffff, .selector = 0xf000,
                                    .flags = SEGF_P | SEGF_S | SEGF_CODE | SEGF_RW | SEGF_ACCESSED };
    cpu->seg[S_LDTR].flags = SEGF_P | 0x2;           /* LDT */
    cpu->seg[S_TR].flags = SEGF_P | 0xb;             /* busy 32-bit TSS */
    cpu->gdtr = (cpu_dtr){ 0, 0xffff };
    cpu->idtr = (cpu_dtr){ 0, 0xffff };
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->apic_base = 0xfee00000u | 0x800 | 0x100; /* enabled, BSP */
    cpu->pat = 0x0007040600070406ull;
    cpu->mtrr_def_type = 0;
    /* x87 after FINIT-like reset: FCW 0x037f, MXCSR 0x1f80 (Vol. 1 §8.1.1, §10.2.3). */
    memset(cpu->fxsave, 0, sizeof(cpu->fxsave));
    cpu->fxsave[0] = 0x40; /* FCW = 0x0040 at power-on (Vol. 3A Table 9-1); FINIT sets 0x037f */
    uint32_t mxcsr = 0x1f80;
    memcpy(&cpu->fxsave[24], &mxcsr, 4);
    uint32_t mxcsr_mask = 0xffff;
    memcpy(&cpu->fxsave[28], &mxcsr_mask, 4);
    cpu->run_state = CPU_RUNNING;
    cpu->intr = false;
    cpu->nmi_pending = false;
    cpu->inhibit_irq = false;
    cpu->in_nmi = false;
    cpu->exc_depth = 0;
    cpu->trap_pending = false;
    cpu->tsc_offset = -(uint64_t)__rdtsc();
    cpu_update_mode(cpu);
    cpu_tlb_flush(cpu, false);
    cpu_icache_clear(cpu->icache);
}

uint64_t cpu_rdtsc(const cpu_state *cpu)
{
    return __rdtsc() + cpu->tsc_offset;
}

void cpu_set_intr(cpu_state *cpu, bool level)
{
    /* Sampled at every instruction boundary, and by the main loop while
     * the CPU is halted: nothing else to do. */
    cpu->intr = level;
}
