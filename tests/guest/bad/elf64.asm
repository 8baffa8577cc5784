; An x86-64 ELF with a valid Multiboot header: not an i386 kernel.
bits 64
section .text
align 4
    dd 0x1BADB002, 0, -0x1BADB002
global _start
_start:
    cli
    hlt
