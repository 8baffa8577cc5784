/*
 * Multiboot v1 entry state and boot information (GNU Multiboot Spec
 * 0.6.96 §3.2, §3.3), as the loader hands them over.  Run with
 *   -append "hello world=1" -initrd initrd.bin
 * where initrd.bin holds "btvm-initrd-payload\n".
 */
#include "guest.h"

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

struct mb_module {
    uint32_t mod_start, mod_end, string, reserved;
};

struct mb_mmap {
    uint32_t size;
    uint64_t base, length;
    uint32_t type;
} __attribute__((packed));

static int contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (memcmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

extern char _end[];

void test_main(void)
{
    gprintf("multiboot: entry state and boot information\n");
    check_eq("EAX at entry (boot magic)", mb_magic, 0x2badb002);
    check((entry_eflags & EFL_IF) == 0, "EFLAGS.IF clear at entry (eflags %08x)", entry_eflags);
    check((entry_eflags & EFL_VM) == 0, "EFLAGS.VM clear at entry");
    check((entry_cr0 & CR0_PE) != 0, "CR0.PE set at entry (cr0 %08x)", entry_cr0);
    check((entry_cr0 & CR0_PG) == 0, "CR0.PG clear at entry");

    const struct mb_info *mi = (const struct mb_info *)mb_info;
    check(mb_info != 0 && mb_info < 0x100000, "info structure in low memory at %x", mb_info);
    gprintf("  info flags %08x\n", mi->flags);
    if (check(mi->flags & 1, "flags: mem_lower/mem_upper valid")) {
        check(mi->mem_lower >= 600 && mi->mem_lower <= 640, "mem_lower = %u KiB", mi->mem_lower);
        /* default 256 MiB (QEMU: 128 MiB) of RAM; upper memory starts at 1 MiB */
        check(mi->mem_upper >= 64 * 1024 && mi->mem_upper <= 255 * 1024,
              "mem_upper = %u KiB", mi->mem_upper);
    }
    if (check(mi->flags & (1 << 2), "flags: command line valid")) {
        const char *cl = (const char *)mi->cmdline;
        gprintf("  cmdline \"%s\"\n", cl);
        check(contains(cl, "hello world=1"), "command line holds the -append string");
    }
    if (check(mi->flags & (1 << 3), "flags: modules valid") &&
        check_eq("mods_count", mi->mods_count, 1)) {
        const struct mb_module *m = (const struct mb_module *)mi->mods_addr;
        gprintf("  module %08x..%08x \"%s\"\n", m->mod_start, m->mod_end, (char *)m->string);
        check((m->mod_start & 0xfff) == 0, "module is page-aligned (flag 0 asked for it)");
        check(m->mod_start >= (uint32_t)_end, "module lies above the kernel (ends at %p)", _end);
        check_eq("module size", m->mod_end - m->mod_start, 20);
        check(memcmp((void *)m->mod_start, "btvm-initrd-payload\n", 20) == 0,
              "module contents");
        check(contains((const char *)m->string, "initrd.bin"), "module string names the file");
    }
    if (check(mi->flags & (1 << 6), "flags: memory map valid")) {
        uint64_t avail_low = 0, avail_high = 0;
        uint32_t off = 0;
        int n = 0;
        while (off < mi->mmap_length && n < 32) {
            const struct mb_mmap *e = (const struct mb_mmap *)(mi->mmap_addr + off);
            gprintf("  mmap %08x%08x +%08x%08x type %u\n", (uint32_t)(e->base >> 32),
                    (uint32_t)e->base, (uint32_t)(e->length >> 32), (uint32_t)e->length, e->type);
            if (e->type == 1 && e->base == 0)
                avail_low = e->length;
            if (e->type == 1 && e->base == 0x100000)
                avail_high = e->length;
            off += e->size + 4;
            n++;
        }
        check(avail_low >= 0x9f000 && avail_low <= 0xa0000, "low memory available from 0");
        check(avail_high == (uint64_t)mi->mem_upper * 1024,
              "memory from 1 MiB available, as long as mem_upper says");
    }
    if (check(mi->flags & (1 << 9), "flags: boot loader name valid"))
        gprintf("  boot loader \"%s\"\n", (const char *)mi->boot_loader_name);

    /* The kernel's .bss must be zero. */
    static uint32_t bss_probe[1024];
    uint32_t nz = 0;
    for (int i = 0; i < 1024; i++)
        nz |= bss_probe[i];
    check(nz == 0, ".bss is zeroed");
}
