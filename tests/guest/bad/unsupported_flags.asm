; A Multiboot header that requires an unknown feature (flags bit 3): the
; loader must refuse it (Multiboot 0.6.96 §3.1.2).
bits 32
org 0x100000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010008         ; bit 3 (unknown, required), address fields
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd 0x100000, 0x100000, 0, 0, 0x100020
    times 32 - ($ - $$) db 0
    cli
    hlt
