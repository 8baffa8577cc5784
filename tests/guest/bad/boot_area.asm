; A kernel that asks to be loaded at 0x8000, over btvm's boot information
; area (0x8000-0xffff): refused.
bits 32
org 0x8000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd header, header, 0, 0, entry
entry:
    cli
    hlt
