/*
 * The Linux x86 boot protocol, 32-bit entry: see linux.h.
 *
 * References are to Documentation/arch/x86/boot.rst (protocol 2.15) and
 * Documentation/arch/x86/zero-page.rst.  btvm has no BIOS for the
 * kernel's real-mode setup code to call, so it does what a 32-bit boot
 * loader does ("32-bit Boot Protocol"): it loads only the protected-mode
 * part of the bzImage, fills in struct boot_params (the "zero page")
 * itself — the setup header copied from the file, the E820 map the setup
 * code would have asked the BIOS for — and jumps to code32_start in flat
 * 32-bit protected mode.
 *
 * Guest physical memory layout chosen here:
 *
 *   0x08000  GDT: 0x10 __BOOT_CS, 0x18 __BOOT_DS (the selectors the
 *            protocol names); the initial stack grows down from here
 *   0x10000  struct boot_params, 4 KiB
 *   0x20000  the command line (at most cmdline_size bytes + NUL)
 *   0x100000 the protected-mode kernel (the file after the setup sectors)
 *   top      the initrd, as high as initrd_addr_max and RAM allow
 *
 * The kernel's decompressor runs at max(load address rounded up to
 * kernel_alignment, pref_address) when relocatable, else at pref_address
 * (arch/x86/boot/compressed/head_32.S), and needs init_size bytes there;
 * the loader checks that this fits in RAM and keeps the initrd out of it.
 */
#include "boot/linux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/acpi.h"
#include "cpu/mem.h"
#include "cpu/seg.h"

#define MiB               (1u << 20)

/* Where things go (see the file comment). */
#define GDT_ADDR          0x8000u
#define STACK_TOP         0x8000u
#define ZERO_PAGE_ADDR    0x10000u
#define CMDLINE_ADDR      0x20000u
#define CMDLINE_LIMIT     0x9f000u  /* below the EBDA we reserve in the E820 map */
#define KERNEL_ADDR       0x100000u /* boot.rst: protected-mode kernel at 1 MiB */

/* The setup header: offsets in the file and in boot_params alike
 * (boot.rst, "The real-mode kernel header"). */
#define HDR_SETUP_SECTS   0x1f1     /* u8: 512-byte sectors of setup code after the boot sector */
#define HDR_SYSSIZE       0x1f4     /* u32 (2.04+): protected-mode code size in 16-byte units */
#define HDR_BOOT_FLAG     0x1fe     /* u16: 0xAA55 */
#define HDR_JUMP          0x200     /* jmp short: its 8-bit offset at 0x201 ends the header */
#define HDR_MAGIC         0x202     /* "HdrS" */
#define HDR_VERSION       0x206     /* u16: protocol version */
#define HDR_TYPE_OF_LOADER 0x210    /* u8 */
#define HDR_LOADFLAGS     0x211     /* u8 */
#define HDR_CODE32_START  0x214     /* u32 */
#define HDR_RAMDISK_IMAGE 0x218     /* u32 */
#define HDR_RAMDISK_SIZE  0x21c     /* u32 */
#define HDR_HEAP_END_PTR  0x224     /* u16 (2.01+) */
#define HDR_CMD_LINE_PTR  0x228     /* u32 (2.02+) */
#define HDR_INITRD_MAX    0x22c     /* u32 (2.03+): highest address the initrd may occupy */
#define HDR_KERNEL_ALIGN  0x230     /* u32 (2.05+) */
#define HDR_RELOCATABLE   0x234     /* u8 (2.05+) */
#define HDR_CMDLINE_SIZE  0x238     /* u32 (2.06+): max command line length without the NUL */
#define HDR_PREF_ADDRESS  0x258     /* u64 (2.10+) */
#define HDR_INIT_SIZE     0x260     /* u32 (2.10+) */

#define LOADFLAG_LOADED_HIGH 0x01   /* protected-mode code is loaded at 0x100000 */
#define LOADFLAG_CAN_USE_HEAP 0x80  /* heap_end_ptr is valid */
#define LOADER_TYPE_UNDEFINED 0xff  /* boot.rst: "0xFF for no assigned id" */

/* Outside the setup header (zero-page.rst). */
#define BP_EXT_MEM_K      0x002     /* screen_info.ext_mem_k, u16: KiB above 1 MiB (max 64 MiB) */
/* The rest of screen_info (include/uapi/linux/screen_info.h), as a BIOS
 * in text mode 3 leaves it: what vgacon starts from. */
#define BP_ORIG_X         0x000     /* u8: cursor column */
#define BP_ORIG_Y         0x001     /* u8: cursor row */
#define BP_VIDEO_MODE     0x006     /* u8: BIOS video mode */
#define BP_VIDEO_COLS     0x007     /* u8 */
#define BP_VIDEO_EGA_BX   0x00a     /* u16: 0x10 would mean CGA */
#define BP_VIDEO_LINES    0x00e     /* u8 */
#define BP_VIDEO_ISVGA    0x00f     /* u8: 1 = VGA */
#define BP_VIDEO_POINTS   0x010     /* u16: character height */
#define BP_ACPI_RSDP_ADDR 0x070     /* u64 (2.14+): where the RSDP is */
#define BP_ALT_MEM_K      0x1e0     /* u32: KiB above 1 MiB */
#define BP_E820_ENTRIES   0x1e8     /* u8 */
#define BP_E820_TABLE     0x2d0     /* 128 x {u64 addr, u64 size, u32 type} */
#define BP_SIZE           0x1000

#define E820_RAM          1
#define E820_RESERVED     2

#define BOOT_CS           0x10      /* boot.rst, "32-bit Boot Protocol": __BOOT_CS */
#define BOOT_DS           0x18      /* and __BOOT_DS */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)v);
    wr16(p + 2, (uint16_t)(v >> 16));
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

bool linux_is_bzimage(const char *path)
{
    uint8_t h[HDR_MAGIC + 4];
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(h, 1, sizeof(h), f);
    fclose(f);
    return n == sizeof(h) && rd16(h + HDR_BOOT_FLAG) == 0xaa55 && !memcmp(h + HDR_MAGIC, "HdrS", 4);
}

/* Read path whole; at most max bytes.  NULL with err set on failure. */
static uint8_t *read_whole(const char *path, const char *what, uint64_t max, size_t *size,
                           char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a regular file", path, what);
        fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: %s is too large (%llu bytes) for %llu MiB of RAM", path, what,
                 (unsigned long long)st.st_size, (unsigned long long)(max >> 20));
        fclose(f);
        return NULL;
    }
    *size = (size_t)st.st_size;
    uint8_t *data = malloc(*size ? *size : 1);
    if (!data) {
        snprintf(err, errlen, "%s: out of memory reading %s", path, what);
        fclose(f);
        return NULL;
    }
    if (*size && fread(data, 1, *size, f) != *size) {
        snprintf(err, errlen, "%s: cannot read %s: %s", path, what,
                 ferror(f) ? strerror(errno) : "file shrank while reading");
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    return data;
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

/* What the header says, checked against the file. */
typedef struct bz_header {
    uint16_t version;
    size_t setup_size;       /* boot sector + setup sectors, bytes */
    size_t pm_size;          /* protected-mode code bytes loaded at 1 MiB */
    size_t hdr_end;          /* end of the setup header in the file */
    uint32_t code32_start;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    uint64_t run_start;      /* where the decompressor runs */
    uint32_t init_size;
} bz_header;

static int parse_header(const char *path, const uint8_t *f, size_t size, bz_header *h, char *err,
                        size_t errlen)
{
    /* boot.rst "Details of header fields": version is in the file from
     * 2.00 on; 2.04 added the 32-bit syssize the size check needs. */
    if (size < HDR_VERSION + 2) {
        snprintf(err, errlen, "%s: truncated Linux kernel header", path);
        return -1;
    }
    h->version = rd16(f + HDR_VERSION);
    if (h->version < 0x204) {
        snprintf(err, errlen, "%s: Linux boot protocol %u.%02u is too old (2.04 or later needed)",
                 path, h->version >> 8, h->version & 0xff);
        return -1;
    }
    /* The header ends where the jump at 0x200 lands ("the end of setup
     * header can be calculated as 0x0202 + byte value at offset 0x0201");
     * it must hold every field this protocol version defines. */
    h->hdr_end = 0x202 + (size_t)f[HDR_JUMP + 1];
    size_t hdr_need = h->version >= 0x20a ? HDR_INIT_SIZE + 4 : HDR_RELOCATABLE + 1;
    if (f[HDR_JUMP] != 0xeb || h->hdr_end < hdr_need) {
        snprintf(err, errlen, "%s: corrupt Linux setup header (jump 0x%02x 0x%02x)", path,
                 f[HDR_JUMP], f[HDR_JUMP + 1]);
        return -1;
    }
    unsigned setup_sects = f[HDR_SETUP_SECTS];
    if (setup_sects == 0)   /* boot.rst: "If this field is 0, the real value is 4." */
        setup_sects = 4;
    h->setup_size = (size_t)(setup_sects + 1) * 512;
    if (h->setup_size >= size || h->hdr_end > h->setup_size) {
        snprintf(err, errlen, "%s: truncated bzImage (%u setup sectors, file is %zu bytes)", path,
                 setup_sects, size);
        return -1;
    }
    h->pm_size = size - h->setup_size;
    uint64_t syssize = (uint64_t)rd32(f + HDR_SYSSIZE) * 16;
    if (syssize == 0 || syssize > h->pm_size) {
        snprintf(err, errlen, "%s: truncated bzImage (syssize says %llu bytes of protected-mode "
                 "code, the file has %zu)", path, (unsigned long long)syssize, h->pm_size);
        return -1;
    }
    if (!(f[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH)) {
        snprintf(err, errlen, "%s: zImage (loaded low) kernels are not supported; use a bzImage",
                 path);
        return -1;
    }
    h->code32_start = rd32(f + HDR_CODE32_START);
    if (h->code32_start != KERNEL_ADDR) {
        /* A loader may change code32_start ("hook"), but the kernel's own
         * value is where it expects to be loaded. */
        snprintf(err, errlen, "%s: code32_start 0x%08x is not 0x%08x", path, h->code32_start,
                 KERNEL_ADDR);
        return -1;
    }
    h->initrd_addr_max = rd32(f + HDR_INITRD_MAX);
    h->cmdline_size = h->version >= 0x206 ? rd32(f + HDR_CMDLINE_SIZE) : 255;

    /* Where the decompressor runs, and how much it needs (see the file
     * comment).  Before 2.10 there is no init_size: assume the kernel
     * needs three times its compressed size at 1 MiB, a safe guess. */
    uint32_t align = rd32(f + HDR_KERNEL_ALIGN);
    bool relocatable = f[HDR_RELOCATABLE] != 0;
    if (h->version >= 0x20a) {
        uint64_t pref = rd64(f + HDR_PREF_ADDRESS);
        h->init_size = rd32(f + HDR_INIT_SIZE);
        if (h->init_size < h->pm_size) {
            snprintf(err, errlen, "%s: inconsistent bzImage header (init_size %u below the "
                     "kernel's %zu bytes)", path, h->init_size, h->pm_size);
            return -1;
        }
        if (align & (align - 1)) {
            snprintf(err, errlen, "%s: kernel_alignment 0x%x is not a power of two", path, align);
            return -1;
        }
        uint64_t start = KERNEL_ADDR;
        if (relocatable && align)
            start = (start + align - 1) & ~(uint64_t)(align - 1);
        h->run_start = !relocatable || start < pref ? pref : start;
    } else {
        h->run_start = KERNEL_ADDR;
        h->init_size = (uint32_t)(h->pm_size * 3);
    }
    return 0;
}

static void put_e820(uint8_t *bp, int *n, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t *e = bp + BP_E820_TABLE + 20 * *n;
    wr64(e, addr);
    wr64(e + 8, size);
    wr32(e + 16, type);
    (*n)++;
}

/* boot.rst "32-bit Boot Protocol": "the CPU must be in 32-bit protected
 * mode with paging disabled; a GDT must be loaded with the descriptors
 * for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18); both descriptors must
 * be 4G flat segment; __BOOT_CS must have execute/read permission, and
 * __BOOT_DS must have read/write permission; CS must be __BOOT_CS and DS,
 * ES, SS must be __BOOT_DS; interrupt must be disabled; %esi must hold the
 * base address of the struct boot_params; %ebp, %edi and %ebx must be
 * zero." */
static void set_entry_state(cpu_state *cpu, phys_mem *mem, uint32_t entry)
{
    uint64_t gdt[4] = {
        0,
        0,
        gdt_entry(0, 0xfffff, 0x9b, 0xc),   /* P, DPL0, code exec/read, accessed, G, D */
        gdt_entry(0, 0xfffff, 0x93, 0xc),   /* P, DPL0, data read/write, accessed, G, B */
    };
    uint8_t raw[sizeof(gdt)];
    for (int i = 0; i < 4; i++)
        wr64(raw + 8 * i, gdt[i]);
    phys_copy_to(mem, GDT_ADDR, raw, sizeof(raw));

    phys_set_a20(mem, true);
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->cr4 = 0;
    cpu->eflags = FL_FIXED1;            /* IF = 0 */
    cpu->gdtr = (cpu_dtr){ GDT_ADDR, sizeof(gdt) - 1 };
    cpu->idtr = (cpu_dtr){ 0, 0 };
    cpu_seg_from_descriptor(&cpu->seg[S_CS], BOOT_CS, gdt[2]);
    for (int s = 0; s <= S_GS; s++)
        if (s != S_CS)
            cpu_seg_from_descriptor(&cpu->seg[s], BOOT_DS, gdt[3]);
    for (int r = 0; r < 8; r++)
        cpu->regs[r] = 0;
    cpu->regs[R_ESI] = ZERO_PAGE_ADDR;
    cpu->regs[R_ESP] = STACK_TOP;
    cpu->eip = entry;
    cpu->run_state = CPU_RUNNING;
    cpu_update_mode(cpu);
    cpu_tlb_flush(cpu, false);
}

/*
 * The BIOS area after the ACPI tables reads as a ROM of zeros, as a PC's
 * firmware ROM does (E820 marks it reserved): a guest only reads it, to
 * scan for firmware tables.  Linux's MP-table scan maps what is left of
 * the 64 KiB at each 16-byte step and unmaps it again (early_memremap):
 * as RAM, every step cost the translator a shadow fill and an unmap, two
 * host TLB flushes (~35,000 unmaps a boot); as ROM the reads are
 * emulated, and the scanning loop soon runs on the interpreter (adaptive
 * retranslation).
 */
static int bios_area_rom(phys_mem *mem)
{
    const uint32_t base = ACPI_TABLES_ADDR + ACPI_TABLES_SIZE, size = 0x100000u - base;
    uint8_t *zeros = calloc(1, size);
    int r = zeros ? phys_add_rom(mem, base, zeros, size, "bios-area") : -1;
    free(zeros);
    return r;
}

int linux_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen)
{
    const char *path = p->kernel;
    uint8_t *kernel = NULL, *initrd = NULL;
    size_t ksize = 0, isize = 0;
    int ret = -1;
    bz_header h;
    uint64_t ram = mem->ram_size;

    kernel = read_whole(path, "kernel", ram, &ksize, err, errlen);
    if (!kernel)
        return -1;
    if (parse_header(path, kernel, ksize, &h, err, errlen) < 0)
        goto out;

    /* The kernel must fit at 1 MiB, and its decompressor needs init_size
     * bytes of RAM where it runs. */
    uint64_t kernel_end = (uint64_t)KERNEL_ADDR + h.pm_size;
    uint64_t run_end = h.run_start + h.init_size;
    uint64_t need = kernel_end > run_end ? kernel_end : run_end;
    if (need > ram) {
        snprintf(err, errlen, "%s: the kernel needs %llu MiB of RAM (init_size %u bytes at "
                 "0x%llx), -m is %llu MiB", path, (unsigned long long)((need + MiB - 1) >> 20),
                 h.init_size, (unsigned long long)h.run_start, (unsigned long long)(ram >> 20));
        goto out;
    }

    const char *cmdline = p->cmdline ? p->cmdline : "";
    size_t cmdlen = strlen(cmdline);
    if (cmdlen > h.cmdline_size || CMDLINE_ADDR + cmdlen + 1 > CMDLINE_LIMIT) {
        snprintf(err, errlen, "command line too long (%zu bytes; the kernel takes at most %u)",
                 cmdlen, h.cmdline_size);
        goto out;
    }

    /* The initrd: "as high as possible" below initrd_addr_max and the end
     * of RAM, page-aligned (boot.rst, ramdisk_image and initrd_addr_max),
     * and above everything the kernel occupies while it boots. */
    uint32_t initrd_addr = 0;
    if (p->initrd) {
        initrd = read_whole(p->initrd, "initrd", ram, &isize, err, errlen);
        if (!initrd)
            goto out;
        uint64_t limit = (uint64_t)h.initrd_addr_max + 1;
        if (limit > ram)
            limit = ram;
        uint64_t addr = isize <= limit ? (limit - isize) & ~0xfffull : 0;
        if (isize > limit || addr < need) {
            snprintf(err, errlen, "%s: initrd (%zu bytes) does not fit between the kernel (ends "
                     "0x%llx) and 0x%llx (RAM end / initrd_addr_max)", p->initrd, isize,
                     (unsigned long long)need, (unsigned long long)limit);
            goto out;
        }
        initrd_addr = (uint32_t)addr;
    }

    /* Everything is checked: now write guest memory. */
    phys_copy_to(mem, KERNEL_ADDR, kernel + h.setup_size, (uint32_t)h.pm_size);
    if (initrd && isize)
        phys_copy_to(mem, initrd_addr, initrd, (uint32_t)isize);

    uint8_t *bp = calloc(1, BP_SIZE);
    if (!bp) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* zero-page.rst: the setup header lives at 0x1f1 of boot_params, as
     * in the file; copy it whole, then fill in the "write" fields. */
    memcpy(bp + HDR_SETUP_SECTS, kernel + HDR_SETUP_SECTS, h.hdr_end - HDR_SETUP_SECTS);
    bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
    bp[HDR_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
    /* heap_end_ptr is an offset in the real-mode setup segment; no setup
     * code runs here, but the protocol asks for a sane value: the end of
     * a 0x8000-byte setup area less 0x200 (boot.rst, "Sample boot
     * configuration"). */
    wr16(bp + HDR_HEAP_END_PTR, 0x9800 - 0x200);
    wr32(bp + HDR_CMD_LINE_PTR, CMDLINE_ADDR);
    wr32(bp + HDR_RAMDISK_IMAGE, initrd_addr);
    wr32(bp + HDR_RAMDISK_SIZE, (uint32_t)isize);

    /* The board's VGA (devices/vga.c) starts in the state a BIOS leaves
     * after setting mode 3: say so, so vgacon drives it as tty0 (the
     * console only where the command line names tty0 or no console). */
    bp[BP_ORIG_X] = 0;
    bp[BP_ORIG_Y] = 0;
    bp[BP_VIDEO_MODE] = 3;
    bp[BP_VIDEO_COLS] = 80;
    wr16(bp + BP_VIDEO_EGA_BX, 0);
    bp[BP_VIDEO_LINES] = 25;
    bp[BP_VIDEO_ISVGA] = 1;
    wr16(bp + BP_VIDEO_POINTS, 16);

    /* Memory sizes the BIOS would have reported: E820 (int 15h AX=E820h),
     * and the legacy 88h/E801h values. */
    uint64_t ext_k = (ram - MiB) >> 10;
    wr16(bp + BP_EXT_MEM_K, (uint16_t)(ext_k > 0xfc00 ? 0xfc00 : ext_k));
    wr32(bp + BP_ALT_MEM_K, (uint32_t)ext_k);
    int n = 0;
    put_e820(bp, &n, 0, 0x9fc00, E820_RAM);
    put_e820(bp, &n, 0x9fc00, 0xa0000 - 0x9fc00, E820_RESERVED);  /* EBDA */
    put_e820(bp, &n, 0xf0000, 0x100000 - 0xf0000, E820_RESERVED); /* BIOS ROM */
    put_e820(bp, &n, MiB, ram - MiB, E820_RAM);
    bp[BP_E820_ENTRIES] = (uint8_t)n;

    /* ACPI tables for power off (boot/acpi.c); the kernel also finds the
     * RSDP by scanning the BIOS area, but the zero page field saves it. */
    wr64(bp + BP_ACPI_RSDP_ADDR, acpi_build_tables(mem));

    memset(mem->ram + GDT_ADDR, 0, 0x100);
    phys_copy_to(mem, ZERO_PAGE_ADDR, bp, BP_SIZE);
    free(bp);
    phys_copy_to(mem, CMDLINE_ADDR, cmdline, (uint32_t)cmdlen + 1);

    if (bios_area_rom(mem) < 0) {
        snprintf(err, errlen, "cannot add the BIOS area's ROM");
        goto out;
    }
    set_entry_state(cpu, mem, h.code32_start);
    ret = 0;
out:
    free(kernel);
    free(initrd);
    return ret;
}
