/*
 * The guest CPU: one state struct shared by every engine.
 *
 * The interpreter (interp.c) and, later, the binary translator both
 * operate on a cpu_state passed explicitly; nothing here is global.
 * Fields that generated code will address are kept at the front and
 * their offsets are checked with static asserts in cpu.c.
 *
 * Architectural state follows the SDM Vol. 3A: segment registers keep
 * their hidden descriptor caches (§3.4.3), EFLAGS is stored whole, and
 * the x87/MMX/SSE state is the 512-byte FXSAVE image (Vol. 1 §10.5.1)
 * that fpu.c loads into the host FPU to run those instructions natively.
 */
#ifndef BTVM_CPU_CPU_H
#define BTVM_CPU_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/tlb.h"
#include "mmu/ioport.h"
#include "mmu/phys.h"

enum cpu_reg { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
enum cpu_sreg { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR, S_COUNT };

/* EFLAGS bits (SDM Vol. 1 §3.4.3) */
#define FL_CF   0x00000001u
#define FL_PF   0x00000004u
#define FL_AF   0x00000010u
#define FL_ZF   0x00000040u
#define FL_SF   0x00000080u
#define FL_TF   0x00000100u
#define FL_IF   0x00000200u
#define FL_DF   0x00000400u
#define FL_OF   0x00000800u
#define FL_IOPL 0x00003000u
#define FL_NT   0x00004000u
#define FL_RF   0x00010000u
#define FL_VM   0x00020000u
#define FL_AC   0x00040000u
#define FL_VIF  0x00080000u
#define FL_VIP  0x00100000u
#define FL_ID   0x00200000u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_FIXED1 0x00000002u

/* CR0 / CR4 bits (SDM Vol. 3A §2.5) */
#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_VME 0x0001u
#define CR4_PVI 0x0002u
#define CR4_TSD 0x0004u
#define CR4_DE  0x0008u
#define CR4_PSE 0x0010u
#define CR4_PAE 0x0020u
#define CR4_MCE 0x0040u
#define CR4_PGE 0x0080u
#define CR4_PCE 0x0100u
#define CR4_OSFXSR 0x0200u
#define CR4_OSXMMEXCPT 0x0400u

/* Exception vectors (SDM Vol. 3A §6.3.1) */
enum cpu_vector {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
    EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13,
    EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/*
 * A segment register with its hidden part.  `flags` holds bits 8..23 of
 * the descriptor's high dword (type, S, DPL, P, AVL, D/B, G) shifted
 * down by 8, so flags & 0x0f is the type and (flags >> 5) & 3 the DPL.
 */
typedef struct cpu_segment {
    uint32_t base;
    uint32_t limit;     /* effective byte limit (granularity applied) */
    uint16_t selector;
    uint16_t flags;
} cpu_segment;

#define SEGF_TYPE(f)  ((f) & 0x0f)
#define SEGF_S        0x0010u /* code/data, not system */
#define SEGF_DPL(f)   (((f) >> 5) & 3)
#define SEGF_P        0x0080u
#define SEGF_AVL      0x1000u
#define SEGF_DB       0x4000u
#define SEGF_G        0x8000u
#define SEGF_CODE     0x0008u /* with S: executable */
#define SEGF_CONFORM  0x0004u /* code: conforming; data: expand-down */
#define SEGF_RW       0x0002u /* code: readable; data: writable */
#define SEGF_ACCESSED 0x0001u

typedef struct cpu_dtr {
    uint32_t base;
    uint16_t limit;
} cpu_dtr;

/* TLB flushes, as the translator's shadow windows hear of them. */
enum cpu_tlb_flush {
    TLB_FLUSH_ALL,        /* CR0/CR4 paging changes: everything */
    TLB_FLUSH_NONGLOBAL,  /* CR3 write: all but global pages (SDM Vol. 3A §4.10.4.1) */
    TLB_FLUSH_PAGE,       /* INVLPG */
};

/* What the CPU is doing between instructions. */
enum cpu_run_state {
    CPU_RUNNING,
    CPU_HALTED,       /* HLT: waits for an interrupt */
    CPU_SHUTDOWN,     /* triple fault */
};

/* Why cpu_exec() returned. */
enum cpu_exit {
    CPU_EXIT_BUDGET,   /* ran its instruction budget */
    CPU_EXIT_REQUEST,  /* exit_request was set (device, timer, front end) */
    CPU_EXIT_HALT,     /* HLT with no interrupt deliverable */
    CPU_EXIT_SHUTDOWN, /* triple fault */
};

typedef struct cpu_stats {
    uint64_t instructions;   /* guest instructions completed */
    uint64_t rep_passes;     /* passes of a REP string instruction that left it unfinished */
    uint64_t exceptions;
    uint64_t interrupts;
    uint64_t tlb_misses;
    uint64_t tlb_flushes;
} cpu_stats;

typedef struct cpu_state {
    /* --- hot state, addressed by generated code: keep first --- */
    uint32_t regs[8];
    uint32_t eip;
    uint32_t eflags;
    volatile uint8_t exit_request; /* tested at instruction/block boundaries */
    uint32_t tr_exit;   /* translated code: which direct exit a block left by (chaining) */
    uintptr_t tr_poll;  /* translated code: what each block entry reads; a stop request
                           points it at an unreadable page */
    uint8_t cpl;
    uint8_t code32;     /* CS.D: default operand/address size 32 */
    uint8_t stack32;    /* SS.B: stack pointer is ESP (else SP) */

    cpu_segment seg[S_COUNT];
    cpu_dtr gdtr, idtr;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];

    /* MSRs (SDM Vol. 4) that an i686 guest uses */
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset;
    uint64_t apic_base;
    uint64_t pat;
    uint64_t mtrr_def_type;
    uint64_t mtrr_fixed[11];
    uint64_t mtrr_var[16];

    /* x87/MMX/SSE state as an FXSAVE image: loaded into the host FPU to run
     * those instructions natively (fpu.c). */
    uint8_t fxsave[512] __attribute__((aligned(16)));
    /* The translator's x87 bookkeeping (translator/fpu_live.h): while
     * translated code holds the guest's FPU registers in the host's, the
     * image above is stale and these record what its instructions did. */
    struct {
        uint8_t ptrs[32] __attribute__((aligned(8))); /* image bytes 0-31 at the load: the
                                                         pointers (6-23) as the guest's x87
                                                         instructions update them, MXCSR_MASK */
        uint8_t live;      /* the host FPU holds the guest's registers */
        uint8_t ip_set;    /* an x87 instruction set FOP/FIP: FCS is CS's selector */
        uint8_t dp_sreg;   /* 1 + segment register of the last x87 memory operand, or 0 */
        uint32_t host_mxcsr; /* what the host's C code runs with */
    } tr_fpu;

    enum cpu_run_state run_state;
    bool intr;           /* level of the INTR pin */
    bool nmi_pending;
    bool inhibit_irq;    /* one-instruction shadow after STI, MOV SS, POP SS */
    bool in_nmi;
    bool exit_on_triple_fault; /* else a triple fault resets the machine */

    /* The local APIC, when the board has one: IA32_APIC_BASE writes go to
     * it, and CPUID reports it. */
    void (*apic_write_base)(void *opaque, uint64_t value);
    void *apic_opaque;

    /* Told of every TLB flush: the translator keeps its shadow windows in
     * step with the software TLB. */
    void (*tlb_hook)(void *opaque, enum cpu_tlb_flush kind, uint32_t lin);
    void *tlb_hook_opaque;

    /* The interrupt controller's acknowledge cycle: returns the vector. */
    int (*intr_ack)(void *opaque);
    void *intr_ack_opaque;

    phys_mem *mem;
    io_space *io;

    cpu_tlb tlb;
    struct cpu_icache *icache; /* the interpreter's decoded instructions (icache.h) */

    /* --- the interpreter's per-instruction fault context --- */
    uint32_t insn_eip;       /* EIP of the instruction being executed */
    uint32_t insn_esp;       /* ESP at its start, for rollback */
    int fault_vector;        /* set by cpu_fault() before it unwinds; -1: shutdown */
    uint32_t fault_error;
    uint32_t fault_cr2;
    int exc_depth;           /* >0 while an event is being delivered */
    int last_vector;         /* exception being delivered (-1: an interrupt), for #DF rules */
    bool trap_pending;       /* single-step #DB after the current instruction */
    bool rep_unfinished;     /* the REP string instruction stopped before its end */
    jmp_buf fault_jmp;       /* cpu_raise() returns here */

    char diag[160];          /* triple-fault or fatal diagnostic */
    cpu_stats stats;
} cpu_state;

/* Power-on state: real mode at F000:FFF0 (SDM Vol. 3A §9.1.1). */
/* Returns 0, or -1 when out of memory. */
int cpu_init(cpu_state *cpu, phys_mem *mem, io_space *io);
void cpu_destroy(cpu_state *cpu);
void cpu_reset(cpu_state *cpu);

/* Host TSC plus the guest's offset. */
uint64_t cpu_rdtsc(const cpu_state *cpu);

/* Set the INTR pin level (called through the board's irq line). */
void cpu_set_intr(cpu_state *cpu, bool level);

static inline bool cpu_protected(const cpu_state *cpu) { return cpu->cr0 & CR0_PE; }
static inline bool cpu_v86(const cpu_state *cpu) { return cpu->eflags & FL_VM; }

#endif
