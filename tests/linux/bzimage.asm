; A synthetic bzImage for the Linux boot protocol loader (boot/linux.c):
; the real-mode header of Documentation/arch/x86/boot.rst, protocol 2.15,
; and a protected-mode part that checks the 32-bit entry state and the
; zero page the loader built, prints PASS on COM1 and exits through the
; debug-exit port (status 1 under run-guest-test.sh).
;
; Header fields can be overridden with nasm -D to make bad kernels:
;   VERSION, SETUP_SECTS, LOADFLAGS, INIT_SIZE, SYSSIZE_EXTRA (added to
;   syssize, in 16-byte units), INITRD_MAX, JUMP_OFFSET.
;
; The loader under test is expected to run with -append "hello linux" and
; an initrd holding "btvm-initrd-payload\n" (20 bytes).

%ifndef VERSION
%define VERSION 0x020f
%endif
%ifndef SETUP_SECTS
%define SETUP_SECTS 4
%endif
%ifndef LOADFLAGS
%define LOADFLAGS 0x01              ; LOADED_HIGH
%endif
%ifndef INIT_SIZE
%define INIT_SIZE 0x100000
%endif
%ifndef SYSSIZE_EXTRA
%define SYSSIZE_EXTRA 0
%endif
%ifndef INITRD_MAX
%define INITRD_MAX 0x7fffffff
%endif
%ifndef JUMP_OFFSET
%define JUMP_OFFSET (hdr_end - 0x202)
%endif

; Like Debian's 686 kernel: relocatable, 16 MiB aligned, preferring 16 MiB.
%define ALIGNMENT 0x1000000
%define PREF      0x1000000

section setup start=0
        times 0x1f1 db 0
        db SETUP_SECTS                  ; 0x1f1 setup_sects
        dw 0                            ; 0x1f2 root_flags
        dd (pm_end - pm_start + 15) / 16 + SYSSIZE_EXTRA ; 0x1f4 syssize
        dw 0                            ; 0x1f8 ram_size
        dw 0xffff                       ; 0x1fa vid_mode: normal
        dw 0                            ; 0x1fc root_dev
        dw 0xaa55                       ; 0x1fe boot_flag
        db 0xeb, JUMP_OFFSET            ; 0x200 jump
        db 'HdrS'                       ; 0x202 header
        dw VERSION                      ; 0x206 version
        dd 0                            ; 0x208 realmode_swtch
        dw 0                            ; 0x20c start_sys_seg
        dw 0                            ; 0x20e kernel_version
        db 0                            ; 0x210 type_of_loader
        db LOADFLAGS                    ; 0x211 loadflags
        dw 0                            ; 0x212 setup_move_size
        dd 0x100000                     ; 0x214 code32_start
        dd 0                            ; 0x218 ramdisk_image
        dd 0                            ; 0x21c ramdisk_size
        dd 0                            ; 0x220 bootsect_kludge
        dw 0                            ; 0x224 heap_end_ptr
        db 0, 0                         ; 0x226 ext_loader_ver, ext_loader_type
        dd 0                            ; 0x228 cmd_line_ptr
        dd INITRD_MAX                   ; 0x22c initrd_addr_max
        dd ALIGNMENT                    ; 0x230 kernel_alignment
        db 1                            ; 0x234 relocatable_kernel
        db 13                           ; 0x235 min_alignment
        dw 0                            ; 0x236 xloadflags
        dd 2047                         ; 0x238 cmdline_size
        dd 0                            ; 0x23c hardware_subarch
        dq 0                            ; 0x240 hardware_subarch_data
        dd 0, 0                         ; 0x248 payload_offset, payload_length
        dq 0                            ; 0x250 setup_data
        dq PREF                         ; 0x258 pref_address
        dd INIT_SIZE                    ; 0x260 init_size
        dd 0                            ; 0x264 handover_offset
        dd 0                            ; 0x268 kernel_info_offset
hdr_end:
        times (SETUP_SECTS + 1) * 512 - ($ - $$) db 0

section pm follows=setup vstart=0x100000
bits 32
pm_start:
%define COM1 0x3f8
%macro fail_unless 2                    ; condition code, message
        j%1 %%ok
        mov esi, %%msg
        jmp fail
%%msg:  db %2, 0
%%ok:
%endmacro

        ; The registers first, before anything clobbers them.
        test ebx, ebx
        fail_unless z, "ebx is not 0"
        test ebp, ebp
        fail_unless z, "ebp is not 0"
        test edi, edi
        fail_unless z, "edi is not 0"
        mov ax, cs
        cmp ax, 0x10
        fail_unless e, "cs is not __BOOT_CS"
        mov ax, ds
        cmp ax, 0x18
        fail_unless e, "ds is not __BOOT_DS"
        mov ax, es
        cmp ax, 0x18
        fail_unless e, "es is not __BOOT_DS"
        mov ax, ss
        cmp ax, 0x18
        fail_unless e, "ss is not __BOOT_DS"
        mov [zero_page], esi
        mov esp, 0x90000
        pushfd
        pop eax
        test eax, 0x200
        fail_unless z, "interrupts are enabled"
        mov eax, cr0
        and eax, 0x80000001
        cmp eax, 1
        fail_unless e, "CR0: not PE without PG"
        ; The GDT's selectors reload (flat 4 GiB).
        mov ax, 0x18
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, [0xfffffffc]           ; beyond 4 GiB - 4: flat limit, no #GP

        mov esi, [zero_page]
        cmp dword [esi + 0x202], 'HdrS'
        fail_unless e, "no setup header in the zero page"
        cmp byte [esi + 0x1f1], SETUP_SECTS
        fail_unless e, "setup_sects not copied"
        cmp byte [esi + 0x210], 0xff
        fail_unless e, "type_of_loader is not 0xff"
        mov al, [esi + 0x211]
        and al, 0x81
        cmp al, 0x81
        fail_unless e, "loadflags lacks LOADED_HIGH|CAN_USE_HEAP"
        cmp word [esi + 0x224], 0
        fail_unless ne, "heap_end_ptr is 0"
        cmp dword [esi + 0x260], INIT_SIZE
        fail_unless e, "init_size not copied"

        ; The command line.
        mov edi, [esi + 0x228]
        cmp edi, 0xa0000 - 12
        fail_unless b, "command line above 640 KiB"
        push esi
        mov esi, cmdline
        mov ecx, 12
        repe cmpsb
        pop esi
        fail_unless e, "command line differs"

        ; The E820 map: 4 entries, the last one RAM from 1 MiB to the end.
        cmp byte [esi + 0x1e8], 4
        fail_unless e, "e820_entries is not 4"
        cmp dword [esi + 0x2d0 + 8], 0x9fc00   ; entry 0 size
        fail_unless e, "e820[0] is not 0-0x9fc00"
        cmp dword [esi + 0x2d0 + 16], 1
        fail_unless e, "e820[0] is not RAM"
        lea ebx, [esi + 0x2d0 + 3 * 20]
        cmp dword [ebx], 0x100000
        fail_unless e, "e820[3] does not start at 1 MiB"
        cmp dword [ebx + 16], 1
        fail_unless e, "e820[3] is not RAM"
        mov eax, [ebx + 8]
        shr eax, 10
        cmp eax, [esi + 0x1e0]
        fail_unless e, "alt_mem_k differs from the E820 map"
        mov ebp, [ebx + 8]
        add ebp, 0x100000               ; ebp = end of RAM
        cmp ebp, 0x100000 + 64 * 0x100000
        jb .small
        cmp word [esi + 0x002], 0xfc00
        fail_unless e, "ext_mem_k is not capped at 0xfc00"
.small:

        ; The initrd: page-aligned, inside RAM and initrd_addr_max, as high
        ; as possible, and above where the kernel decompresses.
        mov edi, [esi + 0x218]
        test edi, 0xfff
        fail_unless z, "initrd not page-aligned"
        cmp dword [esi + 0x21c], 20
        fail_unless e, "ramdisk_size is not 20"
        cmp edi, PREF + INIT_SIZE
        fail_unless ae, "initrd overlaps the kernel's init_size"
        mov eax, INITRD_MAX + 1
        cmp ebp, eax
        jae .cap
        mov eax, ebp                    ; eax = min(RAM end, initrd_addr_max + 1)
.cap:   lea edx, [edi + 20]
        cmp edx, eax
        fail_unless be, "initrd beyond RAM or initrd_addr_max"
        add edx, 0x1000
        cmp edx, eax
        fail_unless a, "initrd not placed as high as possible"
        push esi
        mov esi, payload
        mov ecx, 20
        repe cmpsb
        pop esi
        fail_unless e, "initrd contents differ"

        ; The BIOS area: the ACPI tables' RSDP at 0xf0000, in RAM, and after
        ; the tables a ROM of zeros that ignores writes, as a PC's firmware
        ; (Linux probes it for an MP table, 16 bytes at a time).
        cmp dword [0xf0000], 'RSD '
        fail_unless e, "no RSDP at 0xf0000"
        mov dword [0xf8000], 0x12345678
        cmp dword [0xf8000], 0
        fail_unless e, "the BIOS area after the ACPI tables is writable"

        mov esi, pass
        call puts
        mov al, 0
        out 0xf4, al
        hlt

fail:   push esi
        mov esi, failmsg
        call puts
        pop esi
        call puts
        mov esi, newline
        call puts
        mov al, 1
        out 0xf4, al
        hlt

puts:   mov dx, COM1
.next:  lodsb
        test al, al
        jz .done
        out dx, al
        jmp .next
.done:  ret

zero_page: dd 0
cmdline: db "hello linux", 0
payload: db "btvm-initrd-payload", 10
pass:   db "PASS", 10, 0
failmsg: db "FAIL: ", 0
newline: db 10, 0
        align 16
pm_end:
