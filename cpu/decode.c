/* Fetch and decode of one guest instruction: see decode.h. */
#include "cpu/decode.h"

#include "cpu/exception.h"
#include "cpu/mem.h"

void cpu_decoders_init(cpu_decoders *d)
{
    ZydisDecoderInit(&d->real16, ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&d->prot16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&d->prot32, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
}

/* Fetch up to want bytes at CS:eip into buf, stopping (without a fault)
 * at the CS limit or at a page boundary past the first byte. */
static unsigned fetch_some(cpu_state *cpu, uint32_t eip, uint8_t *buf, unsigned want)
{
    const cpu_segment *cs = &cpu->seg[S_CS];
    unsigned n = 0;
    while (n < want) {
        uint32_t off = eip + n;
        if (!cpu->code32)
            off &= 0xffff;
        if (off > cs->limit)
            break;
        uint32_t lin = cs->base + off;
        unsigned chunk = 0x1000 - (lin & 0xfff);
        if (n > 0 && (lin & 0xfff) == 0)
            break; /* next page: fetched only if the decoder needs it */
        if (chunk > want - n)
            chunk = want - n;
        for (unsigned i = 0; i < chunk; i++) {
            if (off + i > cs->limit)
                return n;
            buf[n++] = (uint8_t)cpu_lin_read(cpu, lin + i, 1, PG_FETCH);
        }
    }
    return n;
}

void cpu_decode(cpu_state *cpu, const cpu_decoders *d, cpu_insn *in)
{
    const ZydisDecoder *dec = !cpu_protected(cpu) || cpu_v86(cpu) ? &d->real16
                              : cpu->code32 ? &d->prot32 : &d->prot16;
    uint32_t eip = cpu->eip;
    in->eip = eip;
    unsigned have = fetch_some(cpu, eip, in->bytes, 15);
    if (have == 0)
        cpu_fault(cpu, EXC_GP, 0); /* beyond the CS limit */
    for (;;) {
        ZyanStatus st = ZydisDecoderDecodeFull(dec, in->bytes, have, &in->z, in->op);
        if (ZYAN_SUCCESS(st))
            break;
        if (st == ZYDIS_STATUS_NO_MORE_DATA && have < 15) {
            unsigned more = fetch_some(cpu, eip + have, in->bytes + have, 15 - have);
            if (more == 0) {
                /* The rest is past the limit (#GP) or the next page is
                 * absent: touch it to raise the right fault. */
                uint32_t off = eip + have;
                if (off > cpu->seg[S_CS].limit)
                    cpu_fault(cpu, EXC_GP, 0);
                cpu_lin_read(cpu, cpu->seg[S_CS].base + off, 1, PG_FETCH);
                cpu_fault(cpu, EXC_GP, 0);
            }
            have += more;
            continue;
        }
        if (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG || st == ZYDIS_STATUS_NO_MORE_DATA)
            cpu_fault(cpu, EXC_GP, 0);
        cpu_fault(cpu, EXC_UD, 0);
    }
    uint32_t next = eip + in->z.length;
    if (!cpu->code32)
        next &= 0xffff;
    in->next_eip = next;
    bool code32 = dec == &d->prot32;
    in->opsize = code32 != !!(in->z.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) ? 4 : 2;
    in->addrsize = code32 != !!(in->z.attributes & ZYDIS_ATTRIB_HAS_ADDRESSSIZE) ? 4 : 2;
    in->rep = (in->z.attributes & ZYDIS_ATTRIB_HAS_REPNE) ? 0xf2
              : (in->z.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) ? 0xf3 : 0;
    in->lock = (in->z.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
}
