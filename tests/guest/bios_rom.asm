; bios_rom: a 64 KiB firmware image, started from the reset vector
; (run with -bios bios_rom.bin).
;
; The ROM is decoded at 0xffff0000-0xffffffff and, through the legacy
; alias, at 0xf0000-0xfffff.  The CPU leaves RESET in real mode with
; CS.selector 0xf000, CS.base 0xffff0000 and IP 0xfff0 (SDM Vol. 3A
; §9.1.4), i.e. at the image's last 16 bytes, where a far jump moves it to
; F000:start (base 0xf0000).  It then checks a few real-mode things,
; switches to protected mode (SDM Vol. 3A §9.9.1: LGDT, CR0.PE, a far jump
; to flush the prefetch queue and load CS, then the data segments), checks
; the two ROM mappings against each other, and exits through port 0xf4.
;
; Failures are counted in RAM at 0x500; output goes to COM1.

bits 16
org 0

ROM_BASE    equ 0xf0000         ; where CS points after the first far jump
COM1        equ 0x3f8
FAILS       equ 0x500           ; failure counter (RAM)
%define L(x) (ROM_BASE + (x))   ; linear address of a ROM label

; ---------------------------------------------------------------- real mode
start16:
    cli
    cld
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ds, ax
    mov word [FAILS], 0

    call serial_init16
    mov si, msg_hello
    call print16

    ; CS is F000 now: its base is F000 << 4.
    mov ax, cs
    cmp ax, 0xf000
    mov si, msg_cs
    call result16

    ; Segment arithmetic: 1000:0010 and 1001:0000 are the same byte.
    mov ax, 0x1000
    mov es, ax
    mov word [es:0x0010], 0x1234
    mov ax, 0x1001
    mov es, ax
    cmp word [es:0x0000], 0x1234
    mov si, msg_segarith
    call result16

    ; 32-bit registers in real mode (operand-size prefix).
    mov eax, 0x12345678
    shr eax, 16
    cmp ax, 0x1234
    mov si, msg_reg32
    call result16

    ; Reading the ROM through CS.
    cmp dword [cs:signature], 'BTVM'
    mov si, msg_romread
    call result16

    ; ---- to protected mode: fast A20 on (port 0x92 bit 1; bit 0 would reset)
    in al, 0x92
    or al, 2
    and al, 0xfe
    out 0x92, al
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or al, 1                    ; CR0.PE
    mov cr0, eax
    jmp dword 0x08:L(start32)   ; 66 EA: 32-bit offset, loads CS from the GDT

; Set ZF -> print "ok   <si>", else "FAIL <si>" and count it.
result16:
    push si
    jz .ok
    inc word [FAILS]
    mov si, msg_fail
    jmp .pr
.ok:
    mov si, msg_ok
.pr:
    call print16
    pop si
    call print16
    mov si, msg_nl
    jmp print16

serial_init16:
    mov dx, COM1 + 1
    xor al, al
    out dx, al                  ; IER: off
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al                  ; LCR: DLAB
    mov dx, COM1
    mov al, 1
    out dx, al                  ; divisor 1
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 3
    out dx, al                  ; 8N1
    ret

; Print the NUL-terminated string at CS:SI.
print16:
    push ax
    push cx
    push dx
.next:
    cs lodsb
    test al, al
    jz .done
    mov ah, al
    mov cx, 0xffff              ; wait for THRE, but not forever
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jnz .send
    loop .wait
.send:
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp .next
.done:
    pop dx
    pop cx
    pop ax
    ret

; ---------------------------------------------------------- protected mode
bits 32
start32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x8000

    mov esi, L(msg_pm)
    call print32

    mov eax, cr0
    test eax, 1
    setnz al
    cmp al, 1
    mov esi, L(msg_pe)
    call result32

    ; CS is the GDT's 32-bit code segment.
    mov ax, cs
    cmp ax, 0x08
    mov esi, L(msg_cs32)
    call result32

    ; The ROM at 4 GiB - 64 KiB and its alias below 1 MiB hold the same bytes.
    mov eax, [0xffff0000 + signature]
    cmp eax, 'BTVM'
    mov esi, L(msg_high)
    call result32
    mov eax, [0xfffffff0]
    cmp eax, [0x000ffff0]
    mov esi, L(msg_resetvec)
    call result32

    ; RAM above 1 MiB is there (A20 enabled above) and distinct from RAM below.
    mov dword [0x00200000], 0xcafef00d
    mov dword [0x00000600], 0x11111111
    cmp dword [0x00200000], 0xcafef00d
    mov esi, L(msg_ram)
    call result32
    mov dword [0x00100600], 0x22222222
    cmp dword [0x00000600], 0x11111111
    mov esi, L(msg_a20)
    call result32

    ; A little 32-bit arithmetic.
    mov eax, 0x10001
    mov ecx, 0x10001
    mul ecx                     ; 0x1_0002_0001
    cmp edx, 1
    jne .bad
    cmp eax, 0x00020001
.bad:
    mov esi, L(msg_mul)
    call result32

    cmp word [FAILS], 0
    jne .failed
    mov esi, L(msg_pass)
    call print32
    xor al, al
    out 0xf4, al
    jmp halt
.failed:
    mov esi, L(msg_failed)
    call print32
    mov al, 1
    out 0xf4, al
halt:
    cli
    hlt
    jmp halt

result32:
    push esi
    jz .ok
    inc word [FAILS]
    mov esi, L(msg_fail)
    jmp .pr
.ok:
    mov esi, L(msg_ok)
.pr:
    call print32
    pop esi
    call print32
    mov esi, L(msg_nl)
    jmp print32

; Print the NUL-terminated string at DS:ESI.
print32:
    push eax
    push ecx
    push edx
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov ecx, 100000
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jnz .send
    loop .wait
.send:
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp .next
.done:
    pop edx
    pop ecx
    pop eax
    ret

; -------------------------------------------------------------------- data
align 8
gdt:
    dq 0
    dq 0x00cf9b000000ffff       ; 0x08: code, base 0, 4 GiB, 32-bit (accessed preset:
    dq 0x00cf93000000ffff       ; 0x10: data      the CPU need not write the ROM)
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd L(gdt)

signature:  db 'BTVM'
msg_hello:  db 'bios_rom: started from the reset vector, real mode', 13, 10, 0
msg_ok:     db '  ok   ', 0
msg_fail:   db '  FAIL ', 0
msg_nl:     db 13, 10, 0
msg_cs:     db 'far jump from the reset vector loaded CS = F000', 0
msg_segarith: db 'real-mode addressing: 1000:0010 = 1001:0000', 0
msg_reg32:  db '32-bit register with operand-size prefix', 0
msg_romread: db 'ROM readable through CS', 0
msg_pm:     db 'bios_rom: protected mode after LGDT, CR0.PE, far jump', 13, 10, 0
msg_pe:     db 'CR0.PE = 1', 0
msg_cs32:   db 'CS = 0x08', 0
msg_high:   db 'ROM at 0xffff0000 holds the image', 0
msg_resetvec: db 'last 16 bytes identical at 0xfffffff0 and 0xffff0', 0
msg_ram:    db 'RAM at 2 MiB', 0
msg_a20:    db 'A20 on: 0x100600 does not wrap to 0x600', 0
msg_mul:    db '32-bit MUL', 0
msg_pass:   db 'PASS', 13, 10, 0
msg_failed: db 'FAIL: some checks failed', 13, 10, 0

; ------------------------------------------------------------ reset vector
    times 0xfff0 - ($ - $$) db 0xff
bits 16
reset_vector:
    jmp 0xf000:start16          ; EA: loads CS = F000, base 0xf0000
    times 0x10000 - ($ - $$) db 0xff
