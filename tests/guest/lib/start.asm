; Guest-test runtime, assembly half: the Multiboot header, the entry point
; and the 256 interrupt stubs.  Everything else is in guest.c.
;
; Multiboot v1 (spec 0.6.96 §3.1): magic, flags, checksum; flags bit 0
; (page-align modules) and bit 1 (memory information).  No a.out kludge:
; the loader reads our ELF program headers.

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00000003

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

section .bss
align 16
stack_bottom:
    resb 16384
global stack_top
stack_top:

section .text
bits 32

extern lib_start, entry_eflags, entry_cr0
global _start
_start:
    ; Multiboot state (§3.2): EAX = 0x2BADB002, EBX = info, flat CS/DS/ES/SS,
    ; interrupts off, ESP undefined.
    mov esp, stack_top
    pushfd
    pop dword [entry_eflags]
    mov ecx, cr0
    mov [entry_cr0], ecx
    cli
    cld
    push ebx
    push eax
    call lib_start          ; lib_start(magic, info): never returns
.hang:
    cli
    hlt
    jmp .hang

; Interrupt stubs: 16 bytes each, at isr_stubs + 16 * vector.  Vectors that
; push an error code (SDM Vol. 3A Table 6-1: 8, 10-14, 17) leave theirs;
; every other one pushes 0 so the frame has one shape.
align 16
global isr_stubs
isr_stubs:
%assign vec 0
%rep 256
    align 16
%if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17
    nop
    nop
%else
    push byte 0
%endif
    push dword vec
    jmp isr_common
%assign vec vec + 1
%endrep

; Frame handed to isr_dispatch (struct frame in guest.h), lowest address
; first: edi esi ebp esp ebx edx ecx eax (PUSHAD), gs fs es ds, vector,
; error, then what the CPU pushed: eip cs eflags [esp ss].
extern isr_dispatch
align 16
isr_common:
    push ds
    push es
    push fs
    push gs
    pushad
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    cld
    push esp
    call isr_dispatch
    add esp, 4
    popad
    pop gs
    pop fs
    pop es
    pop ds
    add esp, 8
    iretd
