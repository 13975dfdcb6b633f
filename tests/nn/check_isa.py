#!/usr/bin/python3
"""The portable build's promise, checked on the linked binary: no instruction above the x86-64-v2
baseline (VEX/EVEX-encoded AVX, AVX2, FMA, AVX-512, their ymm/zmm/mask registers, BMI1/2, LZCNT,
MOVBE) in any function outside the dispatched kernels.

A function may use them only if it is one of the kernels compiled for a level (its name lies in
climseg::nn::isa_avx2:: or climseg::nn::isa_avx512::), or a local copy that such a kernel object made
of an inline or template helper (-fno-weak keeps those local; their names come from the objects).
The kernel objects must export nothing else: a global function they define could be picked by the
linker for baseline code. Positive controls make sure the check sees what it looks for: the avx512
kernels use zmm registers, the avx2 kernels ymm and never zmm, the baseline kernels nothing above v2.

usage: check_isa.py OBJDUMP NM BINARY KERNEL_OBJECT... (the avx2 and avx512 kernel objects)
Exit 0 when every check holds, 1 with one line per finding otherwise.
"""
import re
import subprocess
import sys

SYSTEM_V = {"verr", "verw", "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon", "vmread", "vmwrite", "vmptrld",
            "vmptrst", "vmclear", "vmfunc", "vmrun", "vmload", "vmsave", "vmmcall"}
# BMI1, BMI2, LZCNT, MOVBE (x86-64-v3). TZCNT is left out: it runs as BSF on older CPUs, and
# compilers emit it (as rep bsf) for the baseline too.
ABOVE_V2_GPR = {"andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "mulx", "pdep", "pext", "rorx", "sarx", "shlx",
                "shrx", "lzcnt", "movbe"}
PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16", "addr32", "cs", "ds", "es",
            "ss", "fs", "gs"}
WIDE_REG = re.compile(r"%(ymm|zmm)\d+|%k[0-7]\b")
KERNEL_NAME = re.compile(r"^(?:[^(<]*?\s)?climseg::nn::isa_(baseline|avx2|avx512)::")


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def above_v2(insn):
    """Whether one disassembled instruction (AT&T syntax) needs more than x86-64-v2."""
    tokens = insn.split()
    while tokens and tokens[0] in PREFIXES:
        tokens = tokens[1:]
    if not tokens:
        return False
    mnemonic = tokens[0]
    if WIDE_REG.search(insn):
        return True
    if mnemonic.startswith("v") and mnemonic not in SYSTEM_V and "%xmm" in insn:
        return True
    return mnemonic in ABOVE_V2_GPR


def functions(objdump, binary):
    """{function name: (first instruction above v2 or None, uses ymm, uses zmm)} from the disassembly."""
    out = {}
    name, first, ymm, zmm = None, None, False, False
    header = re.compile(r"^[0-9a-f]+ <(.*)>:$")

    def close():
        if name is not None:
            prev = out.get(name, (None, False, False))
            out[name] = (prev[0] or first, prev[1] or ymm, prev[2] or zmm)

    for line in run([objdump, "-d", "--no-show-raw-insn", "-C", "-w", binary]).splitlines():
        m = header.match(line)
        if m:
            close()
            name, first, ymm, zmm = m.group(1), None, False, False
            continue
        if name is None or "\t" not in line:
            continue
        insn = line.split("\t", 1)[1].split("#", 1)[0].strip()
        if not insn:
            continue
        if first is None and above_v2(insn):
            first = insn
        ymm = ymm or "%ymm" in insn
        zmm = zmm or "%zmm" in insn
    close()
    return out


def symbols(nm, path):
    """[(type letter, demangled name)] of the text symbols a file defines."""
    syms = []
    for line in run([nm, "-C", "--defined-only", path]).splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((parts[1], parts[2]))
    return syms


def main(argv):
    if len(argv) < 5:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    objdump, nm, binary = argv[1], argv[2], argv[3]
    objects = [o for arg in argv[4:] for o in arg.split(";") if o]
    findings = []
    local_copies = set()
    for obj in objects:
        for kind, name in symbols(nm, obj):
            if kind == "t":
                local_copies.add(name)
            elif kind in "TW" and not KERNEL_NAME.match(name):
                findings.append(f"{obj}: exports {name}, outside climseg::nn::isa_*: the linker may use it for "
                                "baseline code")
    binary_locals = {name for kind, name in symbols(nm, binary) if kind == "t"}
    funcs = functions(objdump, binary)
    seen = {"avx512_zmm": 0, "avx2_ymm": 0}
    for name, (first, ymm, zmm) in sorted(funcs.items()):
        m = KERNEL_NAME.match(name)
        level = m.group(1) if m else None
        if level == "avx512" and zmm:
            seen["avx512_zmm"] += 1
        if level == "avx2":
            seen["avx2_ymm"] += ymm
            if zmm:
                findings.append(f"{binary}: {name} is an avx2 kernel but uses AVX-512 ({first})")
        if first is None or level in ("avx2", "avx512"):
            continue
        if level is None and name in binary_locals and name in local_copies:
            continue  # a kernel object's local copy of a helper
        findings.append(f"{binary}: {name} uses '{first}', above the x86-64-v2 baseline, outside the kernels")
    if seen["avx512_zmm"] == 0:
        findings.append(f"{binary}: no climseg::nn::isa_avx512 function uses zmm registers: the check sees nothing")
    if seen["avx2_ymm"] == 0:
        findings.append(f"{binary}: no climseg::nn::isa_avx2 function uses ymm registers: the check sees nothing")
    for f in findings[:40]:
        print(f)
    if len(findings) > 40:
        print(f"... and {len(findings) - 40} more")
    kernels = sum(1 for n in funcs if KERNEL_NAME.match(n))
    print(f"check_isa: {len(funcs)} functions, {kernels} kernel functions ({seen['avx512_zmm']} avx512 with zmm, "
          f"{seen['avx2_ymm']} avx2 with ymm), {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
