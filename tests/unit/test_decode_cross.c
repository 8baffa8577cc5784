/*
 * Decoder cross-check: 32-bit encodings decoded by Zydis (what the CPU
 * runs) and by Capstone (what the trace prints) must agree on the
 * length and, after mapping the two libraries' alias spellings (JZ/JE,
 * SETNZ/SETNE, ...), on the mnemonic.  A disagreement means one of them
 * misreads the instruction — worth knowing before either is trusted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <capstone/capstone.h>
#include <cmocka.h>
#include <Zydis/Zydis.h>

typedef struct enc {
    const char *hex;
    const char *mnemonic; /* expected (Zydis spelling) */
} enc;

static const enc encodings[] = {
    { "01d8", "add" }, { "83c0ff", "add" }, { "6683c0ff", "add" }, { "0500000100", "add" },
    { "11d8", "adc" }, { "29d8", "sub" }, { "19d8", "sbb" }, { "21d8", "and" }, { "09d8", "or" },
    { "31c0", "xor" }, { "39d8", "cmp" }, { "85c0", "test" }, { "a801", "test" },
    { "40", "inc" }, { "fec0", "inc" }, { "4b", "dec" }, { "f7d8", "neg" }, { "f7d0", "not" },
    { "d1e0", "shl" }, { "c1e805", "shr" }, { "d3f8", "sar" }, { "d0c0", "rol" }, { "d1c8", "ror" },
    { "d1d0", "rcl" }, { "c0d803", "rcr" }, { "0fa4d805", "shld" }, { "0fadd8", "shrd" },
    { "f7e3", "mul" }, { "f6eb", "imul" }, { "0fafc3", "imul" }, { "6bc3fe", "imul" },
    { "69c300010000", "imul" }, { "f7f3", "div" }, { "f6fb", "idiv" },
    { "27", "daa" }, { "2f", "das" }, { "37", "aaa" }, { "3f", "aas" }, { "d40a", "aam" },
    { "d50a", "aad" },
    { "0fa3c3", "bt" }, { "0fba2805", "bts" }, { "0fb3c3", "btr" }, { "0fbbc3", "btc" },
    { "0fbcc3", "bsf" }, { "0fbdc3", "bsr" }, { "0fc8", "bswap" },
    { "0f94c0", "setz" }, { "0f95c0", "setnz" }, { "0f9fc0", "setnle" }, { "0f4cc3", "cmovl" },
    { "0f47c3", "cmovnbe" }, { "0fb10b", "cmpxchg" }, { "0fc70b", "cmpxchg8b" }, { "0fc1c3", "xadd" },
    { "f00fc103", "xadd" },
    { "89d8", "mov" }, { "8b4304", "mov" }, { "a144332211", "mov" }, { "a244332211", "mov" },
    { "c70000000100", "mov" }, { "8ed8", "mov" }, { "8cc0", "mov" }, { "0fb6c3", "movzx" },
    { "0fbfc3", "movsx" }, { "8d4c9808", "lea" }, { "93", "xchg" }, { "8703", "xchg" },
    { "d7", "xlat" }, { "98", "cwde" }, { "6698", "cbw" }, { "99", "cdq" }, { "6699", "cwd" },
    { "50", "push" }, { "6aff", "push" }, { "6878563412", "push" }, { "ff30", "push" }, { "1e", "push" },
    { "0fa0", "push" }, { "58", "pop" }, { "8f00", "pop" }, { "1f", "pop" }, { "0fa9", "pop" },
    { "60", "pushad" }, { "61", "popad" }, { "6660", "pusha" }, { "c8100002", "enter" }, { "c9", "leave" },
    { "9f", "lahf" }, { "9e", "sahf" }, { "9c", "pushfd" }, { "9d", "popfd" }, { "669c", "pushf" },
    { "f8", "clc" }, { "f9", "stc" }, { "f5", "cmc" }, { "fc", "cld" }, { "fd", "std" },
    { "c503", "lds" }, { "c403", "les" }, { "0fb403", "lfs" }, { "0fb503", "lgs" }, { "0fb203", "lss" },
    { "90", "nop" }, { "0f1f4000", "nop" }, { "f390", "pause" }, { "0f0b", "ud2" }, { "6203", "bound" },
    { "0fc30b", "movnti" }, { "0f1800", "prefetchnta" },
    { "eb00", "jmp" }, { "e900000000", "jmp" }, { "ffe0", "jmp" }, { "ff20", "jmp" }, { "e800000000", "call" },
    { "ffd0", "call" }, { "c3", "ret" }, { "c20800", "ret" }, { "7400", "jz" }, { "0f8500000000", "jnz" },
    { "7c00", "jl" }, { "7f00", "jnle" }, { "e300", "jecxz" }, { "67e300", "jcxz" }, { "e2fe", "loop" },
    { "e1fe", "loope" }, { "e0fe", "loopne" },
    { "a4", "movsb" }, { "66a5", "movsw" }, { "a5", "movsd" }, { "f3aa", "stosb" }, { "ab", "stosd" },
    { "ac", "lodsb" }, { "f3a6", "cmpsb" }, { "f2ae", "scasb" }, { "6c", "insb" }, { "6f", "outsd" },
    { "64a4", "movsb" }, { "67f3a4", "movsb" },
};

/* Capstone's spelling of Zydis' mnemonics where the two differ. */
static const char *const aliases[][2] = {
    { "jz", "je" }, { "jnz", "jne" }, { "jnle", "jg" }, { "jnbe", "ja" }, { "jnb", "jae" },
    { "setz", "sete" }, { "setnz", "setne" }, { "setnle", "setg" }, { "cmovnbe", "cmova" },
    { "xlat", "xlatb" }, { "pushad", "pushal" }, { "popad", "popal" }, { "pusha", "pushaw" },
};

static void hex_to_bytes(const char *hex, uint8_t *out, size_t *n)
{
    *n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned b;
        sscanf(hex, "%2x", &b);
        out[(*n)++] = (uint8_t)b;
    }
}

/* Capstone prints prefixes into the mnemonic ("rep stosb", "lock xadd"):
 * compare the last word. */
static const char *last_word(const char *s)
{
    const char *sp = strrchr(s, ' ');
    return sp ? sp + 1 : s;
}

static bool same_mnemonic(const char *zy, const char *cs)
{
    if (strcmp(zy, cs) == 0)
        return true;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcmp(zy, aliases[i][0]) == 0 && strcmp(cs, aliases[i][1]) == 0)
            return true;
    return false;
}

static void test_cross(void **state)
{
    (void)state;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    csh cs;
    assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_32, &cs), CS_ERR_OK);
    int failures = 0;

    for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
        uint8_t bytes[16];
        size_t n;
        hex_to_bytes(encodings[i].hex, bytes, &n);

        ZydisDecodedInstruction zi;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, n, &zi, ops))) {
            print_error("%s: Zydis rejects it\n", encodings[i].hex);
            failures++;
            continue;
        }
        const char *zm = ZydisMnemonicGetString(zi.mnemonic);
        cs_insn *ci;
        size_t count = cs_disasm(cs, bytes, n, 0x1000, 1, &ci);
        if (count != 1) {
            print_error("%s: Capstone rejects it (Zydis: %s)\n", encodings[i].hex, zm);
            failures++;
            continue;
        }
        const char *cm = last_word(ci->mnemonic);
        if (strcmp(zm, encodings[i].mnemonic) != 0 || zi.length != n || ci->size != n ||
            !same_mnemonic(zm, cm)) {
            print_error("%s: Zydis %s/%u, Capstone %s/%u, expected %s/%zu\n", encodings[i].hex, zm,
                        zi.length, ci->mnemonic, ci->size, encodings[i].mnemonic, n);
            failures++;
        }
        cs_free(ci, count);
    }
    cs_close(&cs);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
