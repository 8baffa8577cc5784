/*
 * Control and debug registers: MOV to/from CR0, CR2, CR3, CR4 and DR0-DR7,
 * LMSW, SMSW, CLTS, INVLPG (SDM Vol. 3A §2.5 control registers, §4.10.4
 * TLB invalidation, §17.2 debug registers; Vol. 2 for each instruction).
 *
 * What the interpreter's TLB caches decides what must be flushed: a
 * CR3 write drops non-global entries; CR0.PG, CR0.WP (cached in the write
 * permissions), CR0.PE and CR4.PSE/PGE/PAE changes drop everything.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/seg.h"
#include "cpu/sysops.h"

#define CR0_VALID (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | \
                   CR0_NW | CR0_CD | CR0_PG)
/* CR4 bits of the features CPUID offers (no VME/PVI, no MCE, no PAE). */
#define CR4_VALID (CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT)

#define DR6_FIXED1 0xffff0ff0u
#define DR6_BD 0x2000u
#define DR7_GD 0x2000u

void sys_require_cpl0(cpu_state *cpu)
{
    if (cpu_protected(cpu) && cpu->cpl != 0)
        cpu_fault(cpu, EXC_GP, 0);
}

void cpu_write_cr0(cpu_state *cpu, uint32_t v)
{
    /* Reserved bits are ignored on writes; ET is fixed to 1 on a P6. */
    v = (v & CR0_VALID) | CR0_ET;
    if ((v & CR0_PG) && !(v & CR0_PE))
        cpu_fault(cpu, EXC_GP, 0);
    if ((v & CR0_NW) && !(v & CR0_CD))
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t old = cpu->cr0;
    cpu->cr0 = v;
    if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
        cpu_tlb_flush(cpu, false);
    /* Leaving protected mode makes CPL 0.  Entering it keeps CPL 0 until
     * the far jump that loads a protected-mode CS (the CS selector still
     * holds a real-mode paragraph whose low bits are not an RPL). */
    if ((old & CR0_PE) && !(v & CR0_PE))
        cpu_update_mode(cpu);
}

static void write_cr4(cpu_state *cpu, uint32_t v)
{
    if (v & ~CR4_VALID)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t old = cpu->cr4;
    cpu->cr4 = v;
    if ((old ^ v) & (CR4_PSE | CR4_PGE | CR4_PAE))
        cpu_tlb_flush(cpu, false);
}

static bool is_cr(ZydisRegister r) { return r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15; }
static bool is_dr(ZydisRegister r) { return r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15; }

bool sys_is_mov_crdr(const cpu_insn *in)
{
    for (int i = 0; i < 2; i++)
        if (in->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            (is_cr(in->op[i].reg.value) || is_dr(in->op[i].reg.value)))
            return true;
    return false;
}

static uint32_t read_cr(cpu_state *cpu, int n)
{
    switch (n) {
    case 0: return cpu->cr0;
    case 2: return cpu->cr2;
    case 3: return cpu->cr3;
    case 4: return cpu->cr4;
    default: cpu_fault(cpu, EXC_UD, 0);
    }
}

static void write_cr(cpu_state *cpu, int n, uint32_t v)
{
    switch (n) {
    case 0:
        cpu_write_cr0(cpu, v);
        break;
    case 2:
        cpu->cr2 = v;
        break;
    case 3:
        cpu->cr3 = v & 0xfffff018u; /* page directory base, PWT, PCD */
        cpu_tlb_flush(cpu, true);
        break;
    case 4:
        write_cr4(cpu, v);
        break;
    default:
        cpu_fault(cpu, EXC_UD, 0);
    }
}

/* DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); DR7.GD makes any access
 * a #DB fault with DR6.BD (§17.2.4). */
static int dr_index(cpu_state *cpu, ZydisRegister r)
{
    int n = r - ZYDIS_REGISTER_DR0;
    if (n == 4 || n == 5) {
        if (cpu->cr4 & CR4_DE)
            cpu_fault(cpu, EXC_UD, 0);
        n += 2;
    }
    if (n > 7)
        cpu_fault(cpu, EXC_UD, 0);
    if (cpu->dr[7] & DR7_GD) {
        cpu->dr[6] |= DR6_BD;
        cpu->dr[7] &= ~DR7_GD;
        cpu_fault(cpu, EXC_DB, 0);
    }
    return n;
}

static void write_dr(cpu_state *cpu, int n, uint32_t v)
{
    if (n == 6)
        v = (v & 0x0000e00fu) | DR6_FIXED1;
    else if (n == 7)
        v = (v & 0xffff27ffu) | 0x400u;
    cpu->dr[n] = v;
}

void sys_op_mov_crdr(cpu_state *cpu, cpu_insn *in)
{
    sys_require_cpl0(cpu);
    ZydisRegister dst = in->op[0].reg.value, src = in->op[1].reg.value;
    if (is_cr(dst)) {
        write_cr(cpu, dst - ZYDIS_REGISTER_CR0, cpu_reg_get(cpu, src));
    } else if (is_cr(src)) {
        cpu_reg_set(cpu, dst, read_cr(cpu, src - ZYDIS_REGISTER_CR0));
    } else if (is_dr(dst)) {
        write_dr(cpu, dr_index(cpu, dst), cpu_reg_get(cpu, src));
    } else {
        cpu_reg_set(cpu, dst, cpu->dr[dr_index(cpu, src)]);
    }
}

/* LMSW loads PE, MP, EM, TS; it can set PE but not clear it. */
void sys_op_lmsw(cpu_state *cpu, cpu_insn *in)
{
    sys_require_cpl0(cpu);
    uint32_t v = op_read(cpu, in, 0) & 0xf;
    cpu_write_cr0(cpu, (cpu->cr0 & ~0xeu) | v);
}

/* SMSW is not privileged (one of the x86 virtualization holes): a memory
 * destination gets 16 bits, a 32-bit register all of CR0. */
void sys_op_smsw(cpu_state *cpu, cpu_insn *in)
{
    op_write(cpu, in, 0, cpu->cr0);
}

void sys_op_clts(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    sys_require_cpl0(cpu);
    cpu->cr0 &= ~CR0_TS;
}

/* INVLPG m: the linear address of the operand, no limit check. */
void sys_op_invlpg(cpu_state *cpu, cpu_insn *in)
{
    sys_require_cpl0(cpu);
    if (in->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    cpu_tlb_flush_page(cpu, cpu->seg[op_sreg(in, 0)].base + op_ea(cpu, in, 0));
}
