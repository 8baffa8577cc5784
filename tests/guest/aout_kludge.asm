; aout_kludge: a flat binary (nasm -f bin) Multiboot kernel that the loader
; can only place through the header's address fields (flag 16, the "a.out
; kludge", Multiboot 0.6.96 §3.1.3): header_addr, load_addr, load_end_addr,
; bss_end_addr, entry_addr.  Checks the entry state and that the bss the
; header describes is zero, prints through COM1, exits through port 0xf4.

bits 32
org 0x100000

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010003         ; page-align modules, memory info, address fields
COM1     equ 0x3f8

header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)
    dd header                   ; header_addr
    dd header                   ; load_addr: the file from its first byte
    dd load_end                 ; load_end_addr
    dd bss_end                  ; bss_end_addr
    dd entry                    ; entry_addr

entry:
    mov esp, stack_top
    mov [saved_eax], eax
    mov dword [fails], 0
    mov esi, msg_hello
    call print

    cmp dword [saved_eax], 0x2badb002
    mov esi, msg_magic
    call result

    ; the bss (between load_end and bss_end) must be zero
    mov edi, bss_zero
    mov ecx, (bss_check_end - bss_zero) / 4
    xor eax, eax
    repe scasd
    mov esi, msg_bss
    call result

    ; code and data past the header were loaded where the header says
    cmp dword [signature], 'AOUT'
    mov esi, msg_data
    call result

    cmp dword [fails], 0
    jne .fail
    mov esi, msg_pass
    call print
    xor al, al
    out 0xf4, al
    jmp halt
.fail:
    mov esi, msg_fail_end
    call print
    mov al, 1
    out 0xf4, al
halt:
    cli
    hlt
    jmp halt

; ZF set: "ok   <esi>", else "FAIL <esi>"
result:
    push esi
    jz .ok
    inc dword [fails]
    mov esi, msg_failp
    jmp .p
.ok:
    mov esi, msg_okp
.p:
    call print
    pop esi
    call print
    mov esi, msg_nl
    jmp print

print:
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

signature:  db 'AOUT'
msg_hello:  db 'aout_kludge: flat binary loaded through the Multiboot address fields', 13, 10, 0
msg_okp:    db '  ok   ', 0
msg_failp:  db '  FAIL ', 0
msg_nl:     db 13, 10, 0
msg_magic:  db 'EAX = 0x2badb002 at entry', 0
msg_bss:    db 'bss between load_end_addr and bss_end_addr is zero', 0
msg_data:   db 'data loaded at its link address', 0
msg_pass:   db 'PASS', 13, 10, 0
msg_fail_end: db 'FAIL: some checks failed', 13, 10, 0
align 4
load_end:

; bss: not in the file
absolute load_end
bss_start:
saved_eax:  resd 1
fails:      resd 1
bss_zero:   resb 8192
bss_check_end:
            resb 4096
stack_top:
bss_end:
