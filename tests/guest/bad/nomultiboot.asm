; A valid i386 ELF executable with no Multiboot header: btvm must refuse it.
bits 32
section .text
global _start
_start:
    cli
    hlt
    jmp _start
