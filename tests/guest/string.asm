; String instructions (SDM Vol. 2: MOVS, STOS, CMPS, SCAS, LODS, INS, and
; the REP/REPE/REPNE prefixes): both directions (EFLAGS.DF), byte, word
; and dword elements, 32- and 16-bit address size (ESI/EDI/ECX vs
; SI/DI/CX, the upper halves left alone, 16-bit wrap-around), overlapping
; copies, a zero count, and where the registers stop.

%include "guest.inc"

bits 32
section .data
align 16
pattern:                        ; 256 bytes 0, 1, ..., 255
%assign i 0
%rep 256
    db i
%assign i i + 1
%endrep
str_a:  db "abcdefghXjklmnop"
str_b:  db "abcdefghYjklmnop"
dwords_a: dd 1, 2, 3, 5
dwords_b: dd 1, 2, 3, 4

section .bss
align 16
dst:    resb 1024
big:    resb 70000

section .text
global test_main
test_main:
    push ebx
    push esi
    push edi
    push ebp
    PRINT "string: MOVS/STOS/CMPS/SCAS/LODS/INS with REP, DF, 16/32-bit addressing"
    cld

    ; ---- REP MOVSB forward
    mov esi, pattern
    mov edi, dst
    mov ecx, 256
    rep movsb
    CHECK_EQ "rep movsb: ECX", ecx, 0
    CHECK_EQ "rep movsb: ESI advanced", esi, pattern + 256
    CHECK_EQ "rep movsb: EDI advanced", edi, dst + 256
    CHECK_EQ "rep movsb: first dword", dword [dst], 0x03020100
    CHECK_EQ "rep movsb: last dword", dword [dst + 252], 0xfffefdfc

    ; ---- REP MOVSD forward, REP MOVSW (operand-size prefix)
    mov edi, dst
    mov al, 0
    mov ecx, 512
    rep stosb
    mov esi, pattern + 16
    mov edi, dst
    mov ecx, 8
    rep movsd
    CHECK_EQ "rep movsd: ESI", esi, pattern + 48
    CHECK_EQ "rep movsd: EDI", edi, dst + 32
    CHECK_EQ "rep movsd: dword 7", dword [dst + 28], 0x2f2e2d2c
    CHECK_EQ "rep movsd: no byte past the end", dword [dst + 32], 0
    mov esi, pattern
    mov edi, dst + 64
    mov ecx, 3
    rep movsw
    CHECK_EQ "rep movsw: EDI", edi, dst + 70
    CHECK_EQ "rep movsw: word 2", dword [dst + 68], 0x00000504

    ; ---- zero count: nothing moves
    mov esi, pattern
    mov edi, dst + 200
    mov byte [dst + 200], 0xee
    xor ecx, ecx
    rep movsb
    CHECK_EQ "rep movsb with ECX=0: ESI unchanged", esi, pattern
    CHECK_EQ "rep movsb with ECX=0: memory unchanged", dword [dst + 200], 0xee

    ; ---- backward (DF=1): memmove of an overlapping block one dword up
    mov esi, pattern
    mov edi, dst
    mov ecx, 64
    rep movsd                           ; dst = 0..255
    std
    mov esi, dst + 252                  ; last dword of the source
    mov edi, dst + 256                  ; last dword of the destination
    mov ecx, 64
    rep movsd
    cld
    CHECK_EQ "std; rep movsd: ESI moved down", esi, dst - 4
    CHECK_EQ "std; rep movsd: EDI moved down", edi, dst
    CHECK_EQ "overlapping backward copy: dword at +4", dword [dst + 4], 0x03020100
    CHECK_EQ "overlapping backward copy: dword at +256", dword [dst + 256], 0xfffefdfc
    CHECK_EQ "overlapping backward copy: first dword untouched", dword [dst], 0x03020100
    std
    mov esi, pattern + 9
    mov edi, dst + 509
    mov ecx, 10
    rep movsb                           ; bytes 9..0 to 509..500
    cld
    CHECK_EQ "std; rep movsb: bytes 500..503", dword [dst + 500], 0x03020100
    CHECK_EQ "std; rep movsb: EDI", edi, dst + 499

    ; ---- overlapping forward byte copy replicates the first byte
    mov byte [dst + 600], 0x5a
    mov esi, dst + 600
    mov edi, dst + 601
    mov ecx, 15
    rep movsb
    CHECK_EQ "forward overlapping rep movsb replicates: dword at +612", dword [dst + 612], 0x5a5a5a5a

    ; ---- STOS
    mov edi, dst
    mov eax, 0x11223344
    mov ecx, 10
    rep stosd
    CHECK_EQ "rep stosd: EDI", edi, dst + 40
    CHECK_EQ "rep stosd: dword 9", dword [dst + 36], 0x11223344
    mov ax, 0xbeef
    mov ecx, 2
    rep stosw
    CHECK_EQ "rep stosw", dword [dst + 40], 0xbeefbeef
    std
    mov edi, dst + 47
    mov al, 0x77
    mov ecx, 4
    rep stosb
    cld
    CHECK_EQ "std; rep stosb", dword [dst + 44], 0x77777777
    CHECK_EQ "std; rep stosb: EDI", edi, dst + 43
    ; a large fill across many pages
    mov edi, big
    mov eax, 0xa5a5a5a5
    mov ecx, 70000 / 4
    rep stosd
    CHECK_EQ "rep stosd over 70000 bytes: last dword", dword [big + 70000 - 4], 0xa5a5a5a5
    CHECK_EQ "rep stosd over 70000 bytes: EDI", edi, big + 70000

    ; ---- CMPS
    mov esi, str_a
    mov edi, str_b
    mov ecx, 16
    repe cmpsb
    setz bl
    setc bh
    movzx eax, bx
    CHECK_EQ "repe cmpsb stops at the mismatch: ZF=0, CF=1 ('X' < 'Y')", eax, 0x0100
    CHECK_EQ "repe cmpsb: ECX left", ecx, 7
    CHECK_EQ "repe cmpsb: ESI past the mismatch", esi, str_a + 9
    mov esi, str_a
    mov edi, str_a
    mov ecx, 16
    repe cmpsb
    setz al
    movzx eax, al
    CHECK_EQ "repe cmpsb on equal strings: ZF=1", eax, 1
    CHECK_EQ "repe cmpsb on equal strings: ECX", ecx, 0
    mov esi, dwords_a
    mov edi, dwords_b
    mov ecx, 4
    repe cmpsd
    seta al
    movzx eax, al
    CHECK_EQ "repe cmpsd: 5 > 4 (above)", eax, 1
    CHECK_EQ "repe cmpsd: ECX", ecx, 0
    CHECK_EQ "repe cmpsd: EDI", edi, dwords_b + 16
    mov esi, str_a
    mov edi, str_b
    mov ecx, 16
    repne cmpsb
    CHECK_EQ "repne cmpsb stops at the first equal byte: ECX", ecx, 15

    ; ---- SCAS
    mov edi, str_a
    mov al, 'X'
    mov ecx, 16
    repne scasb
    setz bl
    movzx ebx, bl
    CHECK_EQ "repne scasb finds 'X': ZF", ebx, 1
    CHECK_EQ "repne scasb: EDI past it", edi, str_a + 9
    CHECK_EQ "repne scasb: ECX", ecx, 7
    mov edi, str_a
    mov al, '!'
    mov ecx, 16
    repne scasb
    setnz bl
    movzx ebx, bl
    CHECK_EQ "repne scasb, not found: ZF=0", ebx, 1
    CHECK_EQ "repne scasb, not found: ECX", ecx, 0
    mov edi, big
    mov eax, 0xa5a5a5a5
    mov ecx, 1000
    repe scasd
    CHECK_EQ "repe scasd over equal dwords: ECX", ecx, 0
    std
    mov edi, str_a + 15
    mov al, 'a'
    mov ecx, 16
    repne scasb
    cld
    CHECK_EQ "std; repne scasb finds 'a' at the start: EDI", edi, str_a - 1
    CHECK_EQ "std; repne scasb: ECX", ecx, 0

    ; ---- LODS
    mov esi, pattern + 4
    lodsd
    CHECK_EQ "lodsd", eax, 0x07060504
    CHECK_EQ "lodsd: ESI", esi, pattern + 8
    std
    lodsb
    cld
    CHECK_EQ "std; lodsb", eax, 0x07060508
    CHECK_EQ "std; lodsb: ESI", esi, pattern + 7

    ; ---- 16-bit address size: SI, DI, CX; upper halves untouched
    mov esi, pattern
    mov edi, 0x1000
    mov ecx, 64
    rep movsd                           ; pattern to 0x1000 (low memory)
    mov esi, 0xabcd1000
    mov edi, 0x12342000
    mov ecx, 0x55550010
    a16 rep movsb                       ; DS:SI -> ES:DI, CX times
    CHECK_EQ "a16 rep movsb: ECX (CX counted)", ecx, 0x55550000
    CHECK_EQ "a16 rep movsb: ESI (SI only)", esi, 0xabcd1010
    CHECK_EQ "a16 rep movsb: EDI (DI only)", edi, 0x12342010
    CHECK_EQ "a16 rep movsb: data", dword [0x200c], 0x0f0e0d0c
    mov esi, 0x7777ffff
    mov byte [0xffff], 0x42
    a16 lodsb
    CHECK_EQ "a16 lodsb at SI=0xffff: SI wraps to 0", esi, 0x77770000
    and eax, 0xff
    CHECK_EQ "a16 lodsb at SI=0xffff: byte", eax, 0x42
    mov edi, 0xffff2000
    mov eax, 0x99999999
    mov ecx, 0xffff0002
    a16 rep stosd
    CHECK_EQ "a16 rep stosd: EDI", edi, 0xffff2008
    CHECK_EQ "a16 rep stosd: ECX", ecx, 0xffff0000

    ; ---- REP INSB from a port (the PIC's IMR reads back what was written)
    mov al, 0xab
    out 0x21, al
    mov edi, dst
    mov dx, 0x21
    mov ecx, 4
    rep insb
    mov al, 0xff
    out 0x21, al
    CHECK_EQ "rep insb from port 0x21 (IMR)", dword [dst], 0xabababab
    CHECK_EQ "rep insb: EDI", edi, dst + 4

    pop ebp
    pop edi
    pop esi
    pop ebx
    ret
