; The default guest until the Linux guest lands: a Multiboot kernel that
; greets on COM1, echoes what is typed, and powers off on 'q' through the
; debug-exit port.  It exercises the console path a real guest uses:
; polled 16550 transmit and receive.
bits 32

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00000003          ; page-align modules, want memory info
COM1     equ 0x3f8
LSR      equ COM1 + 5            ; line status: bit 0 data ready, bit 5 THR empty
DEBUG_EXIT equ 0xf4

section .multiboot
align 4
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

section .text
global _start
_start:
    mov esp, stack_top
    mov esi, banner
    call puts
    mov eax, [ebx + 8]           ; mem_upper in KiB
    shr eax, 10
    add eax, 1
    call putdec
    mov esi, banner2
    call puts
.loop:
    call getc
    cmp al, 'q'
    je .quit
    cmp al, 13
    jne .echo
    mov al, 10                   ; CR -> CRLF
    call putc
    mov al, 13
.echo:
    call putc
    jmp .loop
.quit:
    mov esi, bye
    call puts
    mov al, 0                    ; btvm exits with (0 << 1) | 1
    out DEBUG_EXIT, al
    cli
    hlt

putc:                            ; al = byte
    push edx
    push eax
    mov dx, LSR
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

getc:                            ; returns al
    push edx
    mov dx, LSR
.wait:
    in al, dx
    test al, 1
    jz .wait
    mov dx, COM1
    in al, dx
    pop edx
    ret

puts:                            ; esi = NUL-terminated string
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret

putdec:                          ; eax = unsigned number
    mov ecx, 10
    xor edi, edi
.digits:
    xor edx, edx
    div ecx
    push edx
    inc edi
    test eax, eax
    jnz .digits
.print:
    pop eax
    add al, '0'
    call putc
    dec edi
    jnz .print
    ret

section .rodata
banner:  db 13, 10, "btvm demo guest: a Multiboot kernel on the reference interpreter", 13, 10
         db "guest RAM: ", 0
banner2: db " MiB", 13, 10, "type to echo, 'q' to power off", 13, 10, 0
bye:     db 13, 10, "bye", 13, 10, 0

section .bss
align 16
    resb 4096
stack_top:
