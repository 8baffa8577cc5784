/* The decoded-instruction cache: see icache.h. */
#include "cpu/icache.h"

#include <stdlib.h>

#include "cpu/mem.h"
#include "cpu/ops.h"

#define ICACHE_ENTRIES 4096u

typedef struct icache_entry {
    uint32_t paddr;  /* of the first byte */
    uint32_t gen;    /* page write generation at decode */
    uint8_t mode;    /* 0 = empty, else decoder mode + 1 */
    cpu_insn insn;
} icache_entry;

struct cpu_icache {
    icache_entry e[ICACHE_ENTRIES];
};

cpu_icache *cpu_icache_new(void)
{
    return calloc(1, sizeof(cpu_icache));
}

void cpu_icache_free(cpu_icache *c)
{
    free(c);
}

void cpu_icache_clear(cpu_icache *c)
{
    for (unsigned i = 0; i < ICACHE_ENTRIES; i++)
        c->e[i].mode = 0;
}

/* Decode and resolve the dispatch entry once, so cached hits skip both. */
static void decode(cpu_state *cpu, const cpu_decoders *d, cpu_insn *in)
{
    cpu_decode(cpu, d, in);
    in->row = cpu_op_find(in);
}

static inline unsigned decoder_mode(const cpu_state *cpu)
{
    if (!cpu_protected(cpu) || cpu_v86(cpu))
        return 1;
    return cpu->code32 ? 3 : 2;
}

cpu_insn *cpu_icache_fetch(cpu_state *cpu, cpu_icache *c, const cpu_decoders *d,
                           cpu_insn *scratch)
{
    const cpu_segment *cs = &cpu->seg[S_CS];
    uint32_t eip = cpu->eip;
    uint32_t lin = cs->base + eip;
    /* Only instructions that surely sit in one page and inside the CS
     * limit are cached; the rest take the decoder's exact fault path. */
    if ((lin & 0xfff) > 0x1000 - 15 || eip > cs->limit || cs->limit - eip < 14) {
        decode(cpu, d, scratch);
        return scratch;
    }
    uint32_t paddr = cpu_translate(cpu, lin, PG_FETCH, cpu->cpl == 3);
    if (!phys_page_ptr(cpu->mem, paddr, false)) {
        decode(cpu, d, scratch); /* code in MMIO */
        return scratch;
    }
    unsigned mode = decoder_mode(cpu);
    icache_entry *e = &c->e[(paddr ^ (paddr >> 12)) & (ICACHE_ENTRIES - 1)];
    uint32_t gen = phys_page_generation(cpu->mem, paddr);
    if (e->mode == mode && e->paddr == paddr && e->gen == gen) {
        cpu_insn *in = &e->insn;
        in->eip = eip;
        uint32_t next = eip + in->z.length;
        in->next_eip = cpu->code32 ? next : (next & 0xffff);
        return in;
    }
    e->mode = 0; /* the decode below may fault half-way */
    decode(cpu, d, &e->insn);
    phys_mark_code(cpu->mem, paddr);
    e->paddr = paddr;
    e->gen = phys_page_generation(cpu->mem, paddr);
    e->mode = (uint8_t)mode;
    return &e->insn;
}
