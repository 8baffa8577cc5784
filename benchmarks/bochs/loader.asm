; A boot sector that loads a Multiboot kernel for Bochs, which cannot load
; Multiboot kernels itself (benchmarks/run uses it for the nanobenchmark
; kernel).  benchmarks/build.sh assembles it with
;
;   nasm -f bin -DKSIZE=bytes -DBSS_END=addr -DENTRY=addr -DCMDLINE='"..."'
;
; and puts it in front of the kernel's flat image (objcopy -O binary, loaded
; at 1 MiB) on a 1.44 MB floppy image.  Real mode: the BIOS (INT 13h AH=02,
; one sector at a time by CHS: 18 sectors a track, 2 heads) reads the image
; to 0x10000; then A20 on (port 0x92), protected mode with flat segments,
; the image copied to 1 MiB, its .bss cleared up to BSS_END, and a Multiboot
; information structure at 0x8000 with the command line and the loader name
; "btvm-bochs-loader" (flags bits 2 and 9).  Enters ENTRY with EAX =
; 0x2BADB002, EBX = 0x8000, interrupts off (Multiboot spec 0.6.96, 3.2).
bits 16
org 0x7c00

KLOAD   equ 0x100000
STAGE   equ 0x10000
MBI     equ 0x8000
SECTORS equ (KSIZE + 511) / 512
%if KSIZE > 0x8f000
%error "kernel image too large for the loader (max 572 KiB)"
%endif

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov [drive], dl
    mov ax, STAGE >> 4
    mov es, ax
    mov word [lba], 1
    mov si, SECTORS
.next:
    mov ax, [lba]
    xor dx, dx
    mov bx, 18
    div bx                  ; ax = track index, dx = sector - 1
    mov cl, dl
    inc cl
    xor dx, dx
    mov bx, 2
    div bx                  ; ax = cylinder, dx = head
    mov ch, al
    mov dh, dl
    mov dl, [drive]
    xor bx, bx
    mov di, 3               ; tries
.try:
    mov ax, 0x0201
    push cx
    push dx
    int 0x13
    pop dx
    pop cx
    jnc .ok
    xor ax, ax
    int 0x13                ; reset the drive, try again
    dec di
    jnz .try
    mov si, msg_fail
.print:
    lodsb
    test al, al
    jz .halt
    mov ah, 0x0e
    int 0x10
    jmp .print
.halt:
    cli
    hlt
    jmp .halt
.ok:
    mov ax, es
    add ax, 0x20
    mov es, ax
    inc word [lba]
    dec si
    jnz .next

    cli
    in al, 0x92
    or al, 2
    and al, 0xfe
    out 0x92, al
    lgdt [gdtr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:pm

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, 0x7c00
    cld
    mov esi, STAGE
    mov edi, KLOAD
    mov ecx, KSIZE
    rep movsb
    mov edi, KLOAD + KSIZE
    mov ecx, BSS_END - (KLOAD + KSIZE)
    xor eax, eax
    rep stosb
    mov edi, MBI
    mov ecx, 128
    rep stosb
    mov dword [MBI + 0], (1 << 2) | (1 << 9)
    mov dword [MBI + 16], cmdline
    mov dword [MBI + 64], loader_name
    mov eax, 0x2badb002
    mov ebx, MBI
    mov ecx, ENTRY
    jmp ecx

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff   ; flat code
    dq 0x00cf92000000ffff   ; flat data
gdtr:
    dw gdtr - gdt - 1
    dd gdt

drive: db 0
lba: dw 0
msg_fail: db "loader: disk read failed", 13, 10, 0
loader_name: db "btvm-bochs-loader", 0
cmdline: db CMDLINE, 0

times 510 - ($ - $$) db 0
dw 0xaa55
