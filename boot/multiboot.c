/*
 * Multiboot v1 loader (the GNU Multiboot Specification 0.6.96): see
 * multiboot.h.
 *
 * What it does, in the order of the specification:
 *   §3.1.1  find the header: a 4-byte aligned dword 0x1BADB002 in the
 *           first 8192 bytes of the file, with magic + flags + checksum
 *           == 0 (mod 2^32);
 *   §3.1.2  check the flags: bits 0..15 are requirements, bits 16..31
 *           options.  Bit 0 (page-align modules) and bit 1 (memory
 *           information) are always met; bit 2 (video mode) is accepted
 *           and not honoured (the kernel sees no framebuffer in the info
 *           flags, which the specification allows it to handle); any
 *           other requirement is refused;
 *   §3.1.3  load the image: ELF32 i386 PT_LOAD segments at p_paddr with
 *           the bss zeroed, or — when flag 16 is set — the "a.out kludge"
 *           addresses from the header itself (load_addr, load_end_addr,
 *           bss_end_addr, entry_addr), which take precedence over ELF;
 *   §3.2    the machine state at entry;
 *   §3.3    the boot information structure.
 *
 * Guest physical memory layout chosen here (the boot area, 0x8000-0xffff,
 * which no kernel segment may overlap):
 *
 *   0x8000  GDT: 0x00 null, 0x08 flat 32-bit code, 0x10 flat 32-bit data
 *   0x9000  multiboot_info (§3.3)
 *   0x9100  memory map (E820-style, 4 entries)
 *   0x9200  module list (at most one module: the -initrd file)
 *   0x9300  boot loader name "btvm"
 *   0xa000  strings: the command line, then the module's string
 *
 * Kernel segments must also stay out of the legacy VGA/BIOS hole
 * (0xa0000-0xfffff) and inside RAM.  The module is loaded page-aligned
 * above the highest kernel byte (and above 1 MiB).
 */
#include "boot/multiboot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpu/mem.h"
#include "cpu/seg.h"

#define MB_HEADER_MAGIC   0x1badb002u
#define MB_BOOT_MAGIC     0x2badb002u
#define MB_SEARCH_LIMIT   8192u

/* Header flags (§3.1.2) */
#define MBH_PAGE_ALIGN    (1u << 0)
#define MBH_MEMORY_INFO   (1u << 1)
#define MBH_VIDEO_MODE    (1u << 2)
#define MBH_AOUT_KLUDGE   (1u << 16)
#define MBH_REQUIRED_MASK 0x0000ffffu
#define MBH_SUPPORTED     (MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE)

/* Boot information flags (§3.3) */
#define MBI_MEMORY        (1u << 0)
#define MBI_CMDLINE       (1u << 2)
#define MBI_MODS          (1u << 3)
#define MBI_MMAP          (1u << 6)
#define MBI_LOADER_NAME   (1u << 9)

/* The boot area (see the file comment). */
#define BOOT_AREA_START   0x8000u
#define BOOT_AREA_END     0x10000u
#define GDT_ADDR          0x8000u
#define INFO_ADDR         0x9000u
#define MMAP_ADDR         0x9100u
#define MODS_ADDR         0x9200u
#define NAME_ADDR         0x9300u
#define STRINGS_ADDR      0xa000u

#define HOLE_START        0xa0000u
#define HOLE_END          0x100000u

#define MiB               (1u << 20)

/* ELF32 (System V ABI, i386 supplement) */
#define EI_NIDENT         16
#define ELFCLASS32        1
#define ELFDATA2LSB       1
#define ET_EXEC           2
#define EM_386            3
#define PT_LOAD           1
#define ELF_EHDR_SIZE     52
#define ELF_PHDR_SIZE     32

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* A file read whole. */
typedef struct blob {
    uint8_t *data;
    size_t size;
} blob;

/* Read path into b; at most max bytes.  0, or -1 with err set. */
static int read_file(const char *path, const char *what, uint64_t max, blob *b, char *err,
                     size_t errlen)
{
    b->data = NULL;
    b->size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a regular file", path, what);
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: %s is too large (%llu bytes, RAM is %llu MiB)", path, what,
                 (unsigned long long)st.st_size, (unsigned long long)((max + MiB - 1) >> 20));
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    b->data = malloc(size ? size : 1);
    if (!b->data) {
        snprintf(err, errlen, "%s: out of memory reading %s", path, what);
        fclose(f);
        return -1;
    }
    if (size && fread(b->data, 1, size, f) != size) {
        snprintf(err, errlen, "%s: cannot read %s: %s", path, what,
                 ferror(f) ? strerror(errno) : "file shrank while reading");
        free(b->data);
        b->data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    b->size = size;
    return 0;
}

/* One piece of the image to put in guest RAM: filesz bytes from the file,
 * then zeros up to memsz. */
typedef struct load_seg {
    uint32_t paddr;
    uint32_t memsz;
    uint32_t filesz;
    uint64_t offset;    /* in the file */
    uint32_t vaddr;     /* ELF only: for translating the entry point */
} load_seg;

#define MAX_SEGS 64

typedef struct image {
    load_seg seg[MAX_SEGS];
    int nseg;
    uint32_t entry;     /* physical */
} image;

/* Check that [paddr, paddr+memsz) may be loaded.  0, or -1 with err set. */
static int check_range(const char *path, const phys_mem *mem, uint32_t paddr, uint64_t memsz,
                       char *err, size_t errlen)
{
    uint64_t end = (uint64_t)paddr + memsz;
    if (end > mem->ram_size) {
        snprintf(err, errlen, "%s: segment at 0x%08x..0x%08llx does not fit in %u MiB of RAM",
                 path, paddr, (unsigned long long)(end - 1), mem->ram_size >> 20);
        return -1;
    }
    if (paddr < BOOT_AREA_END && end > BOOT_AREA_START) {
        snprintf(err, errlen,
                 "%s: segment at 0x%08x..0x%08llx overlaps the boot information area (0x%x-0x%x)",
                 path, paddr, (unsigned long long)(end - 1), BOOT_AREA_START, BOOT_AREA_END - 1);
        return -1;
    }
    if (paddr < HOLE_END && end > HOLE_START) {
        snprintf(err, errlen,
                 "%s: segment at 0x%08x..0x%08llx overlaps the VGA/BIOS area (0x%x-0x%x)", path,
                 paddr, (unsigned long long)(end - 1), HOLE_START, HOLE_END - 1);
        return -1;
    }
    return 0;
}

/* The a.out kludge (§3.1.3, header offsets 12..28). */
static int parse_aout_kludge(const char *path, const phys_mem *mem, const blob *f, size_t hdr,
                             image *img, char *err, size_t errlen)
{
    if (hdr + 32 > f->size) {
        snprintf(err, errlen, "%s: Multiboot header with the address fields is truncated", path);
        return -1;
    }
    uint32_t header_addr = rd32(f->data + hdr + 12);
    uint32_t load_addr = rd32(f->data + hdr + 16);
    uint32_t load_end_addr = rd32(f->data + hdr + 20);
    uint32_t bss_end_addr = rd32(f->data + hdr + 24);
    uint32_t entry_addr = rd32(f->data + hdr + 28);

    if (load_addr > header_addr || header_addr - load_addr > hdr) {
        snprintf(err, errlen,
                 "%s: Multiboot header_addr 0x%08x and load_addr 0x%08x do not match the header's "
                 "file offset 0x%zx", path, header_addr, load_addr, hdr);
        return -1;
    }
    uint64_t offset = hdr - (header_addr - load_addr);
    uint64_t filesz;
    if (load_end_addr == 0) {
        filesz = f->size - offset;
    } else {
        if (load_end_addr < load_addr) {
            snprintf(err, errlen, "%s: Multiboot load_end_addr 0x%08x is below load_addr 0x%08x",
                     path, load_end_addr, load_addr);
            return -1;
        }
        filesz = load_end_addr - load_addr;
        if (offset + filesz > f->size) {
            snprintf(err, errlen,
                     "%s: Multiboot load range 0x%08x..0x%08x runs past the end of the file", path,
                     load_addr, load_end_addr);
            return -1;
        }
    }
    uint64_t memsz = filesz;
    if (bss_end_addr != 0) {
        if ((uint64_t)bss_end_addr < load_addr + filesz) {
            snprintf(err, errlen, "%s: Multiboot bss_end_addr 0x%08x is below the loaded image",
                     path, bss_end_addr);
            return -1;
        }
        memsz = bss_end_addr - (uint64_t)load_addr;
    }
    if (memsz == 0) {
        snprintf(err, errlen, "%s: Multiboot header describes an empty image", path);
        return -1;
    }
    if (check_range(path, mem, load_addr, memsz, err, errlen) < 0)
        return -1;
    if (entry_addr < load_addr || entry_addr - (uint64_t)load_addr >= memsz) {
        snprintf(err, errlen, "%s: entry point 0x%08x is outside the loaded image", path,
                 entry_addr);
        return -1;
    }
    img->seg[0] = (load_seg){ .paddr = load_addr, .memsz = (uint32_t)memsz,
                              .filesz = (uint32_t)filesz, .offset = offset, .vaddr = load_addr };
    img->nseg = 1;
    img->entry = entry_addr;
    return 0;
}

static int parse_elf(const char *path, const phys_mem *mem, const blob *f, image *img, char *err,
                     size_t errlen)
{
    const uint8_t *e = f->data;
    if (f->size < 4 || memcmp(e, "\x7f" "ELF", 4) != 0) {
        snprintf(err, errlen, "%s: not an ELF file (and no Multiboot a.out kludge)", path);
        return -1;
    }
    if (f->size < ELF_EHDR_SIZE) {
        snprintf(err, errlen, "%s: truncated ELF header", path);
        return -1;
    }
    if (e[4] != ELFCLASS32 || e[5] != ELFDATA2LSB) {
        snprintf(err, errlen, "%s: not a 32-bit little-endian ELF file", path);
        return -1;
    }
    if (rd16(e + 18) != EM_386) {
        snprintf(err, errlen, "%s: ELF machine %u is not i386", path, rd16(e + 18));
        return -1;
    }
    if (rd16(e + 16) != ET_EXEC) {
        snprintf(err, errlen, "%s: ELF type %u is not an executable (ET_EXEC)", path,
                 rd16(e + 16));
        return -1;
    }
    uint32_t entry = rd32(e + 24);
    uint32_t phoff = rd32(e + 28);
    uint16_t phentsize = rd16(e + 42);
    uint16_t phnum = rd16(e + 44);
    if (phnum == 0) {
        snprintf(err, errlen, "%s: ELF file has no program headers", path);
        return -1;
    }
    if (phentsize < ELF_PHDR_SIZE) {
        snprintf(err, errlen, "%s: ELF program header size %u is too small", path, phentsize);
        return -1;
    }
    if ((uint64_t)phoff + (uint64_t)phnum * phentsize > f->size) {
        snprintf(err, errlen, "%s: ELF program headers lie outside the file (truncated?)", path);
        return -1;
    }

    img->nseg = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = e + phoff + (size_t)i * phentsize;
        if (rd32(ph) != PT_LOAD)
            continue;
        uint32_t offset = rd32(ph + 4);
        uint32_t vaddr = rd32(ph + 8);
        uint32_t paddr = rd32(ph + 12);
        uint32_t filesz = rd32(ph + 16);
        uint32_t memsz = rd32(ph + 20);
        if (memsz == 0)
            continue;
        if (filesz > memsz) {
            snprintf(err, errlen, "%s: segment at 0x%08x has file size 0x%x above its memory "
                     "size 0x%x", path, paddr, filesz, memsz);
            return -1;
        }
        if ((uint64_t)offset + filesz > f->size) {
            snprintf(err, errlen,
                     "%s: segment at 0x%08x: file bytes 0x%x..0x%llx lie outside the file "
                     "(truncated?)", path, paddr, offset,
                     (unsigned long long)((uint64_t)offset + filesz));
            return -1;
        }
        if (check_range(path, mem, paddr, memsz, err, errlen) < 0)
            return -1;
        if (img->nseg == MAX_SEGS) {
            snprintf(err, errlen, "%s: more than %d loadable segments", path, MAX_SEGS);
            return -1;
        }
        img->seg[img->nseg++] = (load_seg){ .paddr = paddr, .memsz = memsz, .filesz = filesz,
                                            .offset = offset, .vaddr = vaddr };
    }
    if (img->nseg == 0) {
        snprintf(err, errlen, "%s: ELF file has no loadable segments", path);
        return -1;
    }
    /* e_entry is a virtual address; where a segment is linked at a virtual
     * address other than its load address (higher-half kernels), translate
     * it as boot loaders do.  It must land inside a loaded segment. */
    for (int i = 0; i < img->nseg; i++) {
        const load_seg *s = &img->seg[i];
        if (entry >= s->vaddr && entry - s->vaddr < s->memsz) {
            img->entry = entry - s->vaddr + s->paddr;
            return 0;
        }
    }
    for (int i = 0; i < img->nseg; i++) {
        const load_seg *s = &img->seg[i];
        if (entry >= s->paddr && entry - s->paddr < s->memsz) {
            img->entry = entry;
            return 0;
        }
    }
    snprintf(err, errlen, "%s: entry point 0x%08x is outside the loadable segments", path, entry);
    return -1;
}

/* Find and check the Multiboot header; returns its offset or -1. */
static long find_header(const char *path, const blob *f, uint32_t *flags, char *err,
                        size_t errlen)
{
    size_t limit = f->size < MB_SEARCH_LIMIT ? f->size : MB_SEARCH_LIMIT;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        const uint8_t *h = f->data + off;
        if (rd32(h) != MB_HEADER_MAGIC)
            continue;
        uint32_t fl = rd32(h + 4);
        if ((uint32_t)(MB_HEADER_MAGIC + fl + rd32(h + 8)) != 0)
            continue;
        uint32_t unsupported = fl & MBH_REQUIRED_MASK & ~MBH_SUPPORTED;
        if (unsupported) {
            snprintf(err, errlen, "%s: Multiboot header requires unsupported features (flags "
                     "0x%08x, unknown required bits 0x%04x)", path, fl, unsupported);
            return -1;
        }
        *flags = fl;
        return (long)off;
    }
    if (f->size < 4 || memcmp(f->data, "\x7f" "ELF", 4) != 0)
        snprintf(err, errlen, "%s: not an ELF file, and no Multiboot header in the first 8 KiB",
                 path);
    else
        snprintf(err, errlen, "%s: no Multiboot header in the first 8 KiB", path);
    return -1;
}

/* Write one E820-style map entry (§3.3: size, base_addr, length, type). */
static uint32_t put_mmap(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
    wr32(p, 20);
    wr64(p + 4, base);
    wr64(p + 12, len);
    wr32(p + 20, type);
    return 24;
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags4)
{
    uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16);
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(flags4 & 0xf) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

/* Machine state at entry (§3.2). */
static void set_entry_state(cpu_state *cpu, phys_mem *mem, uint32_t entry)
{
    /* A small GDT so that kernels may reload the segment registers with
     * the selectors they were handed: 0x08 code, 0x10 data.  Accessed
     * bits preset, so loading them never writes the table. */
    uint64_t gdt[3] = {
        0,
        gdt_entry(0, 0xfffff, 0x9b, 0xc),   /* P, DPL0, code exec/read, G, D */
        gdt_entry(0, 0xfffff, 0x93, 0xc),   /* P, DPL0, data read/write, G, B */
    };
    uint8_t raw[sizeof(gdt)];
    for (int i = 0; i < 3; i++)
        wr64(raw + 8 * i, gdt[i]);
    phys_copy_to(mem, GDT_ADDR, raw, sizeof(raw));

    phys_set_a20(mem, true);
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->cr4 = 0;
    cpu->eflags = FL_FIXED1;            /* IF = 0, VM = 0 */
    cpu->gdtr = (cpu_dtr){ GDT_ADDR, sizeof(gdt) - 1 };
    cpu->idtr = (cpu_dtr){ 0, 0 };      /* the kernel sets its own; until then any
                                           event is a clean triple fault */
    cpu_seg_from_descriptor(&cpu->seg[S_CS], 0x08, gdt[1]);
    for (int s = 0; s < S_COUNT; s++)
        if (s != S_CS && s <= S_GS)
            cpu_seg_from_descriptor(&cpu->seg[s], 0x10, gdt[2]);
    cpu->regs[R_EAX] = MB_BOOT_MAGIC;
    cpu->regs[R_EBX] = INFO_ADDR;
    cpu->eip = entry;
    cpu->run_state = CPU_RUNNING;
    cpu_update_mode(cpu);
    cpu_tlb_flush(cpu, false);
}

int multiboot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen)
{
    const char *path = p->kernel;
    blob f = { 0 }, initrd = { 0 };
    image img;
    int ret = -1;

    if (read_file(path, "kernel", mem->ram_size, &f, err, errlen) < 0)
        return -1;
    uint32_t flags = 0;
    long hdr = find_header(path, &f, &flags, err, errlen);
    if (hdr < 0)
        goto out;
    if (flags & MBH_AOUT_KLUDGE) {
        if (parse_aout_kludge(path, mem, &f, (size_t)hdr, &img, err, errlen) < 0)
            goto out;
    } else if (parse_elf(path, mem, &f, &img, err, errlen) < 0) {
        goto out;
    }

    /* The strings and the module. */
    const char *cmdline = p->cmdline ? p->cmdline : path;
    size_t cmdlen = strlen(cmdline) + 1;
    size_t modstrlen = p->initrd ? strlen(p->initrd) + 1 : 0;
    if (cmdlen + modstrlen > BOOT_AREA_END - STRINGS_ADDR) {
        snprintf(err, errlen, "command line too long (%zu bytes; at most %u with the module name)",
                 cmdlen - 1, BOOT_AREA_END - STRINGS_ADDR - 1 - (unsigned)modstrlen);
        goto out;
    }

    uint64_t kernel_end = 0;
    for (int i = 0; i < img.nseg; i++)
        if ((uint64_t)img.seg[i].paddr + img.seg[i].memsz > kernel_end)
            kernel_end = (uint64_t)img.seg[i].paddr + img.seg[i].memsz;
    uint32_t mod_start = 0, mod_end = 0;
    if (p->initrd) {
        if (read_file(p->initrd, "initrd", mem->ram_size, &initrd, err, errlen) < 0)
            goto out;
        uint64_t start = kernel_end > MiB ? kernel_end : MiB;
        start = (start + 0xfff) & ~0xfffull;
        if (start + initrd.size > mem->ram_size) {
            snprintf(err, errlen, "%s: initrd (%zu bytes) does not fit in %u MiB of RAM above the "
                     "kernel (0x%llx)", p->initrd, initrd.size, mem->ram_size >> 20,
                     (unsigned long long)start);
            goto out;
        }
        mod_start = (uint32_t)start;
        mod_end = (uint32_t)(start + initrd.size);
    }

    /* Everything is checked: now write guest memory. */
    for (int i = 0; i < img.nseg; i++) {
        const load_seg *s = &img.seg[i];
        phys_copy_to(mem, s->paddr, f.data + s->offset, s->filesz);
        memset(mem->ram + s->paddr + s->filesz, 0, s->memsz - s->filesz);
    }
    if (p->initrd)
        phys_copy_to(mem, mod_start, initrd.data, (uint32_t)initrd.size);

    memset(mem->ram + BOOT_AREA_START, 0, BOOT_AREA_END - BOOT_AREA_START);
    uint32_t cmdline_addr = STRINGS_ADDR;
    uint32_t modstr_addr = STRINGS_ADDR + (uint32_t)cmdlen;
    phys_copy_to(mem, cmdline_addr, cmdline, (uint32_t)cmdlen);
    if (p->initrd)
        phys_copy_to(mem, modstr_addr, p->initrd, (uint32_t)modstrlen);
    phys_copy_to(mem, NAME_ADDR, "btvm", 5);

    uint8_t mmap[4 * 24];
    uint32_t mmap_len = 0;
    mmap_len += put_mmap(mmap + mmap_len, 0, 0x9fc00, 1);
    mmap_len += put_mmap(mmap + mmap_len, 0x9fc00, 0xa0000 - 0x9fc00, 2);
    mmap_len += put_mmap(mmap + mmap_len, 0xf0000, 0x100000 - 0xf0000, 2);
    if (mem->ram_size > MiB)
        mmap_len += put_mmap(mmap + mmap_len, MiB, mem->ram_size - MiB, 1);
    phys_copy_to(mem, MMAP_ADDR, mmap, mmap_len);

    if (p->initrd) {
        uint8_t mod[16];
        wr32(mod, mod_start);
        wr32(mod + 4, mod_end);
        wr32(mod + 8, modstr_addr);
        wr32(mod + 12, 0);
        phys_copy_to(mem, MODS_ADDR, mod, sizeof(mod));
    }

    uint8_t info[88];
    memset(info, 0, sizeof(info));
    wr32(info + 0, MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
    wr32(info + 4, 640);                                   /* mem_lower, KiB */
    wr32(info + 8, (mem->ram_size - MiB) >> 10);           /* mem_upper, KiB from 1 MiB */
    wr32(info + 16, cmdline_addr);
    wr32(info + 20, p->initrd ? 1 : 0);                    /* mods_count */
    wr32(info + 24, MODS_ADDR);
    wr32(info + 44, mmap_len);
    wr32(info + 48, MMAP_ADDR);
    wr32(info + 64, NAME_ADDR);
    phys_copy_to(mem, INFO_ADDR, info, sizeof(info));

    set_entry_state(cpu, mem, img.entry);
    ret = 0;
out:
    free(f.data);
    free(initrd.data);
    return ret;
}
